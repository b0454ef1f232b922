// manifest.json: the list of embedding shards of one embedding run, written
// atomically by rank 0 once every shard is complete. Retrieval accepts the
// manifest or a glob of .h5 files; both are checked against the files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sharding/embedding_shard.h"
#include "sharding/shard_plan.h"

namespace fid::sharding {

inline constexpr const char* kManifestFormat = "fid-embeddings-manifest";
inline constexpr int64_t kManifestVersion = 1;

struct ManifestShard {
  std::string file;  // relative to the manifest's directory when written
  int index = 0;
  RowRange rows;
  int64_t bytes = 0;  // file size, a cheap check that the file is the one listed
};

struct Manifest {
  int64_t dim = 0;
  EmbeddingDtype dtype = EmbeddingDtype::kFloat16;
  int64_t total_rows = 0;  // rows of the passages file (global ids are < this)
  std::string model_fingerprint;
  std::string passages_fingerprint;
  int shard_count = 0;
  std::vector<ManifestShard> shards;  // sorted by index
  // A subset of the passages (written by filter-passages) when > 0: rows and
  // shard row ranges number the kept passages, each shard's `ids` dataset
  // gives their rows in the passages file, which has this many rows. 0: the
  // shards cover the passages file itself and ids are its rows.
  int64_t subset_of_rows = 0;
  // Directory the relative file names resolve against (not serialised).
  std::string base_dir;

  bool is_subset() const { return subset_of_rows > 0; }
  // Rows of the passages file these embeddings are of.
  int64_t passage_rows() const { return is_subset() ? subset_of_rows : total_rows; }

  std::string shard_path(const ManifestShard& s) const;
  int64_t rows_listed() const;
  // The shard plan over the listed shards (global ids are row offsets).
  ShardPlan plan() const;
};

// Builds a manifest from complete shard files (reads their attributes);
// they must agree on dim, dtype, fingerprints and shard count.
Manifest manifest_from_files(const std::vector<std::string>& files, const std::string& base_dir);
// Writes `path` atomically; file names are stored relative to its directory.
void write_manifest(const std::string& path, const Manifest& manifest);
// Reads `path` and checks it: format/version, every listed file exists with
// the listed size and attributes, ranges sorted and disjoint.
Manifest load_manifest(const std::string& path);
// A manifest path (*.json) or a glob of .h5 shards ("emb/passages_*.h5").
Manifest load_embeddings(const std::string& manifest_or_glob);
// Paths matching a shell glob, sorted; an error when none match.
std::vector<std::string> expand_glob(const std::string& pattern);

}  // namespace fid::sharding
