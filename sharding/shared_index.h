// The dense index across ranks: one quantizer trained once (on rank 0, on a
// sample drawn from every rank's shards) and shared as bytes, each rank
// adding only its own shards' vectors, with local labels mapped to global
// ids (row offsets). ShardedDenseIndex (sharded_dense_index.h) searches it.
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

}  // namespace fid::sharding
