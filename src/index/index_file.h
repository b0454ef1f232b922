// One FAISS index file per rank plus a JSON side manifest saying what the
// index holds: its parameters, the embedding shards it covers and the world
// it was built for. Loading checks all of it, so a changed shard, world size
// or dimension is refused with a message to rebuild, never searched silently.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "index/dense_index.h"

namespace fid::index {

inline constexpr const char* kIndexFormat = "fid-index";
inline constexpr int64_t kIndexVersion = 1;

struct CoveredShard {
  int index = 0;
  int64_t row_begin = 0;
  int64_t row_end = 0;
  bool operator==(const CoveredShard& o) const {
    return index == o.index && row_begin == o.row_begin && row_end == o.row_end;
  }
};

struct IndexManifest {
  IndexParams params;
  int64_t ntotal = 0;
  int world_size = 1;
  int rank = 0;
  std::vector<CoveredShard> shards;  // in the order their vectors were added
  std::string embeddings_id;         // e.g. the model fingerprint of the shards
};

// "<dir>/index_r00003.faiss" for rank 3.
std::string index_file_for_rank(const std::string& dir, int rank);
// Writes the FAISS file (atomically) and `<path>.json`.
void save_index(const std::string& path, const DenseIndex& index, IndexManifest manifest);
// True when both files exist (a saved index to load).
bool saved_index_exists(const std::string& path);
IndexManifest read_index_manifest(const std::string& path);
// Loads and checks against `expected` (parameters, world size, rank, shards,
// embeddings id); any difference is an error saying what differs and to rebuild.
DenseIndex load_index(const std::string& path, const IndexManifest& expected);

}  // namespace fid::index
