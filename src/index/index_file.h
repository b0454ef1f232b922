// One FAISS index file per embedding shard (a part) plus a JSON side
// manifest saying what the part holds: its parameters, the shard it covers
// and the embeddings. Parts do not depend on the world that built them, so
// any number of ranks loads them. Loading checks all of it, so a changed
// shard or dimension is refused with a message to rebuild, never searched
// silently.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "index/dense_index.h"

namespace fid::index {

inline constexpr const char* kIndexFormat = "fid-index";
// 2: one file per embedding shard (1 was one per rank).
inline constexpr int64_t kIndexVersion = 2;

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
  std::vector<CoveredShard> shards;  // in the order their vectors were added
  std::string embeddings_id;         // e.g. the model fingerprint of the shards
};

// "<dir>/index_s00003.faiss": the part of embedding shard 3.
std::string index_file_for_shard(const std::string& dir, int shard_index);
// Writes the FAISS file (atomically) and `<path>.json`.
void save_index(const std::string& path, const DenseIndex& index, IndexManifest manifest);
// True when both files exist (a saved index to load).
bool saved_index_exists(const std::string& path);
IndexManifest read_index_manifest(const std::string& path);
// Loads and checks against `expected` (parameters, shards, embeddings id);
// any difference is an error saying what differs and to rebuild.
DenseIndex load_index(const std::string& path, const IndexManifest& expected);

}  // namespace fid::index
