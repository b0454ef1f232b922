// The order in which training examples are seen: one permutation of the
// training set per epoch, drawn from the run's seed and shared by every rank,
// cut into global batches (ranks x per-rank batch, the last partial batch
// dropped as the seed's DataLoader does). Rank r takes the r-th slice of each
// global batch. Because the order depends on the step only, a resumed run
// continues exactly where it stopped.
#pragma once
#include <cstdint>
#include <vector>

namespace fid::train {

class DataOrder {
 public:
  DataOrder(int64_t n_examples, int64_t global_batch, uint64_t seed);
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // Example indices of rank `rank`'s slice of the global batch of 0-based `step`.
  std::vector<int64_t> rank_slice(int64_t step, int rank, int64_t per_rank_batch);

 private:
  void ensure_epoch(int64_t epoch);
  int64_t n_;
  int64_t global_batch_;
  int64_t batches_per_epoch_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

}  // namespace fid::train
