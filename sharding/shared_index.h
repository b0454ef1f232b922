// The dense index across ranks: one quantizer trained once (on rank 0, on a
// sample drawn from every rank's shards) and shared as bytes, each rank
// adding only its own shards' vectors, and search through the distributed
// top-k core with local labels mapped to global ids (row offsets).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "index/dense_index.h"
#include "sharding/shard_plan.h"
#include "sharding/topk_merge.h"

namespace fid::dist { class Communicator; }

namespace fid::sharding {

// Local labels (vectors in the order they were added: the rows of each
// range in turn) to global ids.
class IdMap {
 public:
  IdMap() = default;
  explicit IdMap(std::vector<RowRange> ranges);
  int64_t size() const { return total_; }
  int64_t global_id(int64_t local) const;  // -1 stays -1
  const std::vector<RowRange>& ranges() const { return ranges_; }

 private:
  std::vector<RowRange> ranges_;
  std::vector<int64_t> starts_;  // local label of each range's first row
  int64_t total_ = 0;
};

// Each rank contributes a seeded uniform sample of its `local_n` vectors,
// sized in proportion to its share of all vectors; rank 0 gets the
// concatenation (about `total_sample` rows, (n, dim)), others get nothing.
std::vector<float> gather_training_sample(dist::Communicator& comm, const float* local_vectors,
                                          int64_t local_n, int64_t dim, int64_t total_sample,
                                          uint64_t seed = 1234);

// Trains an empty index on rank 0 from `sample` (rank 0's argument only),
// serialises it and broadcasts it: every rank returns the same trained,
// empty index, ready for its own vectors.
index::DenseIndex train_shared_index(dist::Communicator& comm, const index::IndexParams& params,
                                     const std::vector<float>& sample);

// Every rank passes its own queries (local_nq, dim); returns the global top-k
// of those queries over all ranks' indexes (in rounds of `batch` per rank
// when > 0).
TopK search_sharded(dist::Communicator& comm, const index::DenseIndex& local_index,
                    const IdMap& ids, const float* local_queries, int64_t local_nq, int k,
                    int64_t batch = 0);

}  // namespace fid::sharding
