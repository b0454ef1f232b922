// A rank's parts of the dense index, one per embedding shard the shard plan
// gives it: a training sample drawn from every rank's shards, one quantizer
// trained on rank 0 and shared, then each shard's vectors streamed from HDF5
// into its own part. Parts are saved and reloaded per shard (index_file), so
// an index built by W ranks is searched by any number of ranks with the same
// results: every part holds the same vectors, coded the same way, whichever
// rank holds it (an HNSW graph too, being built per shard).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "index/dense_index.h"
#include "index/index_file.h"
#include "sharding/manifest.h"
#include "sharding/shared_index.h"

namespace fid::dist { class Communicator; }

namespace fid::sharding {

// Once every rank has finished its shards: rank 0 builds the manifest from
// all ranks' files (relative to the manifest's directory) and writes it
// atomically; every rank returns after it is written, or throws its error.
// subset_of_rows > 0: the shards hold a subset of a passages file of that
// many rows (Manifest::subset_of_rows), as filter-passages writes them.
void write_manifest_collective(dist::Communicator& comm, const std::string& manifest_path,
                               const std::vector<std::string>& my_files, int64_t total_rows,
                               int64_t subset_of_rows = 0);

// The manifest's shards that `rank` of `world` searches (contiguous blocks).
struct LocalShards {
  std::vector<int> positions;  // positions in manifest.shards
  std::vector<RowRange> ranges;
  int64_t rows = 0;
};
LocalShards local_shards(const Manifest& manifest, int rank, int world);

// Streams the rank's vectors shard by shard in blocks of at most
// `block_rows`: fn(vectors (n, dim) float32, n, first global row).
void for_each_local_block(const Manifest& manifest, const LocalShards& local, int64_t block_rows,
                          const std::function<void(const float*, int64_t, int64_t)>& fn);

struct LocalIndex {
  std::vector<index::DenseIndex> parts;  // one per local shard, in LocalShards order
  IdMap ids;
  int64_t size() const;  // vectors in all parts
};

struct BuildOptions {
  int64_t train_sample = 262144;  // vectors drawn over all ranks to train
  int64_t add_batch = 65536;      // rows read and added at a time
  uint64_t seed = 1234;
  // Directory for one index file per embedding shard; empty: neither load nor save.
  std::string save_or_load_dir;
};

// Loads this rank's parts when `save_or_load_dir` holds every part of the
// index (built for the same embeddings and parameters by any number of ranks;
// an error when it holds another index), else builds them and, with a
// directory, saves them.
LocalIndex build_local_index(dist::Communicator& comm, const Manifest& manifest,
                             const index::IndexParams& params, const BuildOptions& options);

}  // namespace fid::sharding
