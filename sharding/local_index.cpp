#include "sharding/local_index.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "dist/communicator.h"

namespace fid::sharding {

void write_manifest_collective(dist::Communicator& comm, const std::string& manifest_path,
                               const std::vector<std::string>& my_files, int64_t total_rows,
                               int64_t subset_of_rows) {
  std::vector<std::string> parts = comm.all_gather_bytes(encode_strings(my_files));
  std::string status = "ok";
  if (comm.rank() == 0) {
    try {
      std::vector<std::string> files;
      for (const auto& p : parts) {
        for (auto& f : decode_strings(p)) files.push_back(std::move(f));
      }
      Manifest m = manifest_from_files(files, parent_path(manifest_path));
      FID_CHECK(m.total_rows <= total_rows, "shards reach row ", m.total_rows, " past the ",
                total_rows, " passages");
      m.total_rows = total_rows;
      m.subset_of_rows = subset_of_rows;
      write_manifest(manifest_path, m);
    } catch (const std::exception& e) {
      status = e.what();
    }
  }
  comm.broadcast_bytes(status, 0);
  FID_CHECK(status == "ok", "writing the manifest '", manifest_path, "' on rank 0 failed: ", status);
}

LocalShards local_shards(const Manifest& manifest, int rank, int world) {
  LocalShards out;
  for (int pos : manifest.plan().shards_for_rank(rank, world)) {
    out.positions.push_back(pos);
    out.ranges.push_back(manifest.shards[pos].rows);
    out.rows += manifest.shards[pos].rows.size();
  }
  return out;
}

void for_each_local_block(const Manifest& manifest, const LocalShards& local, int64_t block_rows,
                          const std::function<void(const float*, int64_t, int64_t)>& fn) {
  block_rows = std::max<int64_t>(1, block_rows);
  std::vector<float> buf;
  for (int pos : local.positions) {
    EmbeddingShardReader reader(manifest.shard_path(manifest.shards[pos]));
    FID_CHECK(reader.dim() == manifest.dim, "'", reader.path(), "' has dimension ", reader.dim(),
              " but the manifest says ", manifest.dim);
    for (int64_t b = 0; b < reader.rows(); b += block_rows) {
      const int64_t n = std::min(block_rows, reader.rows() - b);
      buf.resize(static_cast<size_t>(n * reader.dim()));
      reader.read_vectors(b, n, buf.data());
      fn(buf.data(), n, reader.meta().rows.begin + b);
    }
  }
}

namespace {
// A uniform sample of this rank's rows, its size proportional to the rank's
// share of all rows, read in one streaming pass.
std::vector<float> local_sample(dist::Communicator& comm, const Manifest& manifest,
                                const LocalShards& local, const BuildOptions& options) {
  const int64_t all = dist::all_reduce_sum(comm, local.rows);
  FID_CHECK(all > 0, "the embedding shards hold no rows to index");
  int64_t want = options.train_sample >= all
                     ? local.rows
                     : static_cast<int64_t>(static_cast<double>(options.train_sample) *
                                                local.rows / all + 0.5);
  want = std::min(want, local.rows);
  // Floyd's algorithm: `want` distinct local rows without a table of all rows.
  std::mt19937_64 rng(options.seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(comm.rank()));
  std::vector<int64_t> picked;
  {
    std::vector<int64_t> chosen;
    chosen.reserve(static_cast<size_t>(want));
    std::vector<bool> taken;  // dense bitmap is fine: one bit per local row
    taken.assign(static_cast<size_t>(local.rows), false);
    for (int64_t j = local.rows - want; j < local.rows; ++j) {
      int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
      if (taken[t]) t = j;
      taken[t] = true;
      chosen.push_back(t);
    }
    std::sort(chosen.begin(), chosen.end());
    picked.swap(chosen);
  }
  std::vector<float> sample(static_cast<size_t>(want * manifest.dim));
  int64_t seen = 0;
  size_t next = 0;
  for_each_local_block(manifest, local, options.add_batch,
                       [&](const float* x, int64_t n, int64_t) {
                         while (next < picked.size() && picked[next] < seen + n) {
                           std::memcpy(sample.data() + next * manifest.dim,
                                       x + (picked[next] - seen) * manifest.dim,
                                       static_cast<size_t>(manifest.dim) * sizeof(float));
                           ++next;
                         }
                         seen += n;
                       });
  return sample;
}
}  // namespace

int64_t LocalIndex::size() const {
  int64_t n = 0;
  for (const auto& p : parts) n += p.size();
  return n;
}

LocalIndex build_local_index(dist::Communicator& comm, const Manifest& manifest,
                             const index::IndexParams& params, const BuildOptions& options) {
  FID_CHECK(params.dim == manifest.dim, "the index is for dimension ", params.dim,
            " but the embeddings have dimension ", manifest.dim);
  LocalShards local = local_shards(manifest, comm.rank(), comm.size());
  LocalIndex out{{}, IdMap(local.ranges)};
  // What each local part covers (and a saved part must match).
  std::vector<index::IndexManifest> covers;
  std::vector<std::string> paths;
  for (int pos : local.positions) {
    const auto& s = manifest.shards[static_cast<size_t>(pos)];
    index::IndexManifest m;
    m.params = params;
    m.embeddings_id = manifest.model_fingerprint + "/" + manifest.passages_fingerprint;
    m.shards.push_back({s.index, s.rows.begin, s.rows.end});
    covers.push_back(m);
    if (!options.save_or_load_dir.empty()) paths.push_back(index::index_file_for_shard(options.save_or_load_dir, s.index));
  }

  if (!options.save_or_load_dir.empty()) {
    // Every rank must agree on loading, else some would wait in training.
    int64_t have = 0;
    for (const auto& path : paths) have += index::saved_index_exists(path) ? 1 : 0;
    const int64_t parts_with = dist::all_reduce_sum(comm, have);
    const int64_t parts_all = static_cast<int64_t>(manifest.shards.size());
    if (parts_with == parts_all) {
      for (size_t i = 0; i < paths.size(); ++i) {
        out.parts.push_back(index::load_index(paths[i], covers[i]));
        out.parts.back().share_coarse_quantizer(out.parts.front());  // one copy per rank
      }
      log::info("loaded the saved index from '", options.save_or_load_dir, "' (", parts_all, " parts, ",
                local.positions.size(), " on this rank)");
      return out;
    }
    FID_CHECK(parts_with == 0, "'", options.save_or_load_dir, "' holds ", parts_with, " of the ", parts_all,
              " index parts of these embeddings; rebuild the index (remove that directory or point "
              "--save_or_load_index elsewhere)");
  }

  // One trained empty index, shared by every part of every rank.
  index::DenseIndex empty(params);
  if (empty.is_trained()) {
    comm.barrier();  // flat, HNSW over flat vectors: nothing to train
  } else {
    std::vector<float> mine = local_sample(comm, manifest, local, options);
    const int64_t n_mine = static_cast<int64_t>(mine.size()) / manifest.dim;
    // The sample is already drawn: gather it whole (total_sample = all rows).
    std::vector<float> sample = gather_training_sample(comm, mine.data(), n_mine, manifest.dim,
                                                       INT64_MAX, options.seed);
    empty = train_shared_index(comm, params, sample);
  }
  if (empty.is_graph() && comm.rank() == 0) {
    log::info("--index_factory '", params.describe(), "' is a graph: each embedding shard gets its own, "
              "searched separately and merged (its codebooks, if any, are shared)");
  }
  const std::string trained = empty.serialize();
  for (size_t i = 0; i < local.positions.size(); ++i) {
    LocalShards one;
    one.positions = {local.positions[i]};
    one.ranges = {local.ranges[i]};
    one.rows = local.ranges[i].size();
    index::DenseIndex part = index::DenseIndex::deserialize(trained, params);
    for_each_local_block(manifest, one, options.add_batch,
                         [&](const float* x, int64_t n, int64_t) { part.add(x, n, n); });
    FID_CHECK(part.size() == one.rows, "added ", part.size(), " vectors for ", one.rows, " rows");
    if (!paths.empty()) {
      make_directories(options.save_or_load_dir);
      index::save_index(paths[i], part, covers[i]);
    }
    out.parts.push_back(std::move(part));
    // One copy per rank; equal by construction (all from `trained`).
    out.parts.back().share_coarse_quantizer(out.parts.front(), /*known_equal=*/true);
  }
  return out;
}

}  // namespace fid::sharding
