// What an embedding shard holds and what produced it: the attributes every
// shard carries, compared on resume and across the shards of one run.
#pragma once
#include <cstdint>
#include <string>

#include "sharding/shard_plan.h"

namespace fid::sharding {

enum class EmbeddingDtype { kFloat16, kFloat32 };
std::string dtype_name(EmbeddingDtype dtype);
// "float16" / "fp16" / "float32" / "fp32"; anything else is an error.
EmbeddingDtype parse_dtype(const std::string& name);

// What a shard holds and what produced it; every field is checked on resume.
struct ShardMeta {
  int64_t dim = 0;
  EmbeddingDtype dtype = EmbeddingDtype::kFloat16;
  std::string model_fingerprint;
  std::string passages_fingerprint;
  int shard_index = 0;
  int shard_count = 1;
  RowRange rows;
};

// The attributes in which two shards differ, "" when none: "dim 768
// (<a_label>) vs 128 (<b_label>), ...". The fields of the whole run (dim,
// dtype, fingerprints, shard count), and with `placement` the shard's index
// and row range too.
std::string meta_difference(const ShardMeta& a, const ShardMeta& b, bool placement,
                            const std::string& a_label = "this run",
                            const std::string& b_label = "file");

// Rows per HDF5 chunk for a shard written `window_rows` rows per append:
// the window itself (each append then fills whole chunks: one write, and no
// checksummed chunk read back and rewritten), halved while over 4 MiB.
int64_t shard_chunk_rows(int64_t window_rows, int64_t row_bytes);

}  // namespace fid::sharding
