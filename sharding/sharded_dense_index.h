// The one sharded dense index: every rank holds the FAISS index parts of the
// embedding shards the shard plan gives it (built from them or loaded; one
// part per shard, so any world size searches a saved index the same way),
// knows the passage row of every local vector, and searches with optional
// exact re-ranking from the shards' float vectors; results are merged into
// the global top-k (topk_merge). `fid retrieve` searches through it, and the
// tests that compare sharded search with one index do too. No LibTorch here.
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

namespace fid::sharding {

class EmbeddingShardReader;

struct DenseSearchOptions {
  int k = 100;
  // Candidates taken from each rank's index and re-scored with the exact
  // inner product of the float vectors in the shards; 0 = no re-ranking.
  int rerank = 0;
  int64_t batch = 4096;  // queries per rank per round (bounds memory); global with dealt_queries
  // The queries are rank r's i % W == r of one list (as `retrieve` deals
  // questions): searched in the list's order and rounds, so results do not
  // depend on the world size (distributed_search_dealt).
  bool dealt_queries = false;
};

// Global size of the loaded index, summed over parts (codebooks count once
// per part: each part holds a copy).
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
  ShardedDenseIndex(dist::Communicator& comm, Manifest manifest,
                    const index::IndexParams& params, const BuildOptions& build);
  ~ShardedDenseIndex();
  ShardedDenseIndex(const ShardedDenseIndex&) = delete;
  ShardedDenseIndex& operator=(const ShardedDenseIndex&) = delete;

  // Collective: every rank passes its own (nq, dim) queries and gets their
  // global top-k, ids being rows of the passages file, scores descending.
  TopK search(dist::Communicator& comm, const float* queries, int64_t nq,
                        const DenseSearchOptions& options);
  // Collective.
  ShardedIndexSize size(dist::Communicator& comm) const;

  // Seconds this rank spent in its own parts during the last search (the
  // rest of search() is the all-gather and the merge).
  double last_local_search_s() const { return local_search_s_; }
  const Manifest& manifest() const { return manifest_; }
  const LocalIndex& local() const { return local_; }
  int64_t dim() const { return manifest_.dim; }
  void set_nprobe(int nprobe);
  void set_ef_search(int ef);

 private:
  // Local label -> row of the passages file.
  int64_t passage_row(int64_t label) const;
  void read_passage_rows();
  // Every local part's top `k` of each query, merged: local labels (the
  // label_starts_ numbering), ties by label (= by passage row), -1 past the end.
  void search_parts(const float* queries, int64_t nq, int k, float* scores, int64_t* labels) const;
  // Re-scores `cand` candidates per query exactly and keeps the best k.
  void rerank(const float* queries, int64_t nq, int cand, const int64_t* labels, int k, float* out_scores,
              int64_t* out_labels);

  Manifest manifest_;
  LocalShards shards_;
  LocalIndex local_;
  double local_search_s_ = 0;
  std::vector<int64_t> label_starts_;  // first local label of each local shard
  std::vector<int64_t> subset_rows_;   // subset manifests: local label -> passage row
  std::vector<std::unique_ptr<EmbeddingShardReader>> readers_;  // opened to re-rank
};

}  // namespace fid::sharding
