// The dense-retrieval core of `fid retrieve`, without the question encoder:
// embeddings checked against the passages file, this rank's part of the
// FAISS index (built from its shards or loaded), the passage row of every
// local vector, and search with optional exact re-ranking from the shards'
// float vectors. No LibTorch here, so tests drive it with their own vectors.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "index/dense_index.h"
#include "sharding/local_index.h"
#include "sharding/manifest.h"
#include "sharding/topk_merge.h"

namespace fid::dist { class Communicator; }
namespace fid::sharding { class EmbeddingShardReader; }

namespace fid::retrieval {

// Loads a manifest or glob (`flag` names the option in errors) and checks that
// it embeds the passages file `passages_path` of `passages_rows` rows: same
// fingerprint and row count. A glob of filter-passages' shards is refused
// with a pointer to its manifest (only the manifest says they are a subset).
sharding::Manifest load_checked_embeddings(const std::string& manifest_or_glob,
                                           const std::string& passages_path,
                                           int64_t passages_rows,
                                           const std::string& flag = "--passages_embeddings");

struct DenseSearchOptions {
  int k = 100;
  // Candidates taken from each rank's index and re-scored with the exact
  // inner product of the float vectors in the shards; 0 = no re-ranking.
  int rerank = 0;
  int64_t batch = 4096;  // queries per rank per round (bounds memory)
};

// Global size of the loaded index, summed over ranks (codebooks count once
// per rank: each rank holds a copy).
struct ShardedIndexSize {
  int64_t vectors = 0;
  int64_t index_bytes = 0;   // serialised FAISS indexes
  int64_t id_map_bytes = 0;  // passage rows held for subset manifests
  double bytes_per_passage() const {
    return vectors == 0 ? 0.0 : static_cast<double>(index_bytes + id_map_bytes) / vectors;
  }
};

class ShardedDenseIndex {
 public:
  // Collective: every rank builds (or loads, see BuildOptions) its part.
  ShardedDenseIndex(dist::Communicator& comm, sharding::Manifest manifest,
                    const index::IndexParams& params, const sharding::BuildOptions& build);
  ~ShardedDenseIndex();
  ShardedDenseIndex(const ShardedDenseIndex&) = delete;
  ShardedDenseIndex& operator=(const ShardedDenseIndex&) = delete;

  // Collective: every rank passes its own (nq, dim) queries and gets their
  // global top-k, ids being rows of the passages file, scores descending.
  sharding::TopK search(dist::Communicator& comm, const float* queries, int64_t nq,
                        const DenseSearchOptions& options);
  // Collective.
  ShardedIndexSize size(dist::Communicator& comm) const;

  const sharding::Manifest& manifest() const { return manifest_; }
  const sharding::LocalIndex& local() const { return local_; }
  int64_t dim() const { return manifest_.dim; }
  void set_nprobe(int nprobe) { local_.index.set_nprobe(nprobe); }

 private:
  // Local label -> row of the passages file.
  int64_t passage_row(int64_t label) const;
  void read_passage_rows();
  // Re-scores `cand` candidates per query exactly and keeps the best k.
  void rerank(const float* queries, int64_t nq, int cand, const int64_t* labels, int k, float* out_scores,
              int64_t* out_labels);

  sharding::Manifest manifest_;
  sharding::LocalShards shards_;
  sharding::LocalIndex local_;
  std::vector<int64_t> label_starts_;  // first local label of each local shard
  std::vector<int64_t> subset_rows_;   // subset manifests: local label -> passage row
  std::vector<std::unique_ptr<sharding::EmbeddingShardReader>> readers_;  // opened to re-rank
};

}  // namespace fid::retrieval
