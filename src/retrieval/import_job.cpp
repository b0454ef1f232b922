#include "retrieval/import_job.h"

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/round_robin.h"
#include "data/passages.h"
#include "dist/agreement.h"
#include "dist/communicator.h"
#include "runtime/loaded_retriever.h"
#include "sharding/embedding_shard.h"
#include "sharding/fid_pickle.h"
#include "sharding/local_index.h"
#include "sharding/manifest.h"

namespace fid::retrieval {
namespace {

constexpr int64_t kBlockRows = 8192;  // rows converted and appended at a time

// The rows of --passages that a pickle file's ids name: consecutive, as
// FiD's script writes a block of the file per shard.
sharding::RowRange rows_of(const sharding::FidPickleShard& f, const data::PassageStore& store,
                           const std::string& passages) {
  FID_CHECK(f.rows() > 0, f.path(), " holds no passages");
  const int64_t first = store.row_of(f.ids()[0]);
  for (int64_t k = 0; k < f.rows(); ++k) {
    const int64_t row = k == 0 ? first : store.row_of(f.ids()[static_cast<size_t>(k)]);
    FID_CHECK(row >= 0, f.path(), ": passage id '", f.ids()[static_cast<size_t>(k)], "' (its row ", k,
              ") is not in --passages '", passages, "'; give the passages file these embeddings were made from");
    FID_CHECK(row == first + k, f.path(), ": passage id '", f.ids()[static_cast<size_t>(k)], "' (its row ", k,
              ") is row ", row, " of --passages, not ", first + k, ": FiD's files hold consecutive "
              "passages of the file they were made from; give that passages file");
  }
  return {first, first + f.rows()};
}

}  // namespace

void ImportEmbeddingsOptions::validate() const {
  FID_CHECK(path_exists(passages), "--passages file '", passages, "' does not exist");
  FID_CHECK(model_path.empty() || is_directory(model_path), "--model_path '", model_path,
            "' is not a directory; give the retriever that made the embeddings, or leave it out");
  FID_CHECK(dtype.empty() || dtype == "float16" || dtype == "float32", "--dtype '", dtype,
            "' is not a stored vector type: use float16 or float32");
}

void import_embeddings(dist::Communicator& comm, const ImportEmbeddingsOptions& o) {
  o.validate();
  const std::vector<std::string> files = sharding::expand_glob(o.embeddings);  // sorted: shard order
  data::PassageStore store(o.passages);
  const std::string prefix = sharding::shard_prefix(o.output);
  if (comm.rank() == 0) make_directories(parent_path(prefix));
  comm.barrier();
  const auto lock = dist::take_run_lock(comm, parent_path(prefix), "--output_path", "");
  const std::string passages_fp = file_fingerprint(o.passages);
  const std::string model_fp =
      o.model_path.empty() ? "fid-pickle" : runtime::retriever_fingerprint(o.model_path);

  std::vector<std::string> mine;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!owns_item(static_cast<int64_t>(i), comm.rank(), comm.size())) continue;
    const sharding::FidPickleShard in(files[i]);
    sharding::ShardMeta meta;
    meta.dim = in.dim();
    meta.dtype = o.dtype.empty() ? (in.float16() ? sharding::EmbeddingDtype::kFloat16
                                                 : sharding::EmbeddingDtype::kFloat32)
                                 : sharding::parse_dtype(o.dtype);
    meta.model_fingerprint = model_fp;
    meta.passages_fingerprint = passages_fp;
    meta.shard_index = static_cast<int>(i);
    meta.shard_count = static_cast<int>(files.size());
    meta.rows = rows_of(in, store, o.passages);
    const std::string out = sharding::shard_file_name(prefix, meta.shard_index);
    mine.push_back(out);
    if (path_exists(out)) {  // done by an earlier run of the same import
      const std::string diff = sharding::meta_difference(meta, sharding::read_shard_meta(out), true);
      FID_CHECK(diff.empty(), "'", out, "' exists from another run (", diff, "); remove it or choose another --output_path");
      continue;
    }
    sharding::EmbeddingShardWriter writer(out, meta);
    std::vector<float> block(static_cast<size_t>(kBlockRows * in.dim()));  // (kBlockRows, dim)
    std::vector<int64_t> ids(static_cast<size_t>(kBlockRows));
    for (int64_t k = writer.rows_done(); k < in.rows(); k += kBlockRows) {
      const int64_t n = std::min(kBlockRows, in.rows() - k);
      in.read_vectors(k, n, block.data());
      for (int64_t j = 0; j < n; ++j) ids[static_cast<size_t>(j)] = meta.rows.begin + k + j;
      writer.append(ids.data(), block.data(), n);
    }
    writer.finish();
    log::info("import-embeddings: ", files[i], " -> ", out, " (", in.rows(), " passages, rows ", meta.rows.begin,
              "-", meta.rows.end - 1, ", dim ", in.dim(), ", ", sharding::dtype_name(meta.dtype), ")");
  }
  // Every row of --passages once, before a manifest says so.
  comm.barrier();
  std::string gap;
  if (comm.rank() == 0) {
    int64_t next = 0;
    for (size_t i = 0; i < files.size() && gap.empty(); ++i) {
      const sharding::ShardMeta m = sharding::read_shard_meta(sharding::shard_file_name(prefix, static_cast<int>(i)));
      if (m.rows.begin != next)
        gap = detail::concat("rows ", std::min(next, m.rows.begin), "-", std::max(next, m.rows.begin) - 1,
                             " of --passages are ", m.rows.begin > next ? "in none" : "in more than one",
                             " of the files (at ", files[i], ")");
      next = m.rows.end;
    }
    if (gap.empty() && next != store.size())
      gap = detail::concat("rows ", next, "-", store.size() - 1, " of --passages are in none of the files");
  }
  comm.broadcast_bytes(gap, 0);
  FID_CHECK(gap.empty(), "--embeddings '", o.embeddings, "': ", gap,
            "; give every file of the embedding run (FiD writes one per --shard_id) and its passages file");
  const std::string manifest = join_path(parent_path(prefix), "manifest.json");
  sharding::write_manifest_collective(comm, manifest, mine, store.size());
  if (comm.rank() == 0) log::info("import-embeddings: wrote '", manifest, "' listing ", files.size(), " shards");
}

}  // namespace fid::retrieval
