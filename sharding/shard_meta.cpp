#include "sharding/shard_meta.h"

#include <algorithm>

#include "common/error.h"

namespace fid::sharding {

std::string dtype_name(EmbeddingDtype dtype) {
  return dtype == EmbeddingDtype::kFloat16 ? "float16" : "float32";
}

EmbeddingDtype parse_dtype(const std::string& name) {
  if (name == "float16" || name == "fp16" || name == "half") return EmbeddingDtype::kFloat16;
  if (name == "float32" || name == "fp32" || name == "float") return EmbeddingDtype::kFloat32;
  FID_THROW("unknown embedding dtype '", name, "' (use float16 or float32)");
}

std::string meta_difference(const ShardMeta& a, const ShardMeta& b, bool placement,
                            const std::string& a_label, const std::string& b_label) {
  std::string d;
  auto add = [&](const std::string& field, const std::string& x, const std::string& y) {
    if (x == y) return;
    if (!d.empty()) d += ", ";
    d += field + " " + x + " (" + a_label + ") vs " + y + " (" + b_label + ")";
  };
  add("dim", std::to_string(a.dim), std::to_string(b.dim));
  add("dtype", dtype_name(a.dtype), dtype_name(b.dtype));
  add("model fingerprint", a.model_fingerprint, b.model_fingerprint);
  add("passages fingerprint", a.passages_fingerprint, b.passages_fingerprint);
  if (placement) add("shard index", std::to_string(a.shard_index), std::to_string(b.shard_index));
  add("shard count", std::to_string(a.shard_count), std::to_string(b.shard_count));
  if (placement) add("row range", to_string(a.rows), to_string(b.rows));
  return d;
}

int64_t shard_chunk_rows(int64_t window_rows, int64_t row_bytes) {
  int64_t rows = std::max<int64_t>(1, window_rows);
  while (rows % 2 == 0 && rows * row_bytes > (int64_t{4} << 20)) rows /= 2;
  return rows;
}

}  // namespace fid::sharding
