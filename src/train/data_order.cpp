#include "train/data_order.h"

#include <numeric>

#include "common/error.h"

namespace fid::train {
namespace {
uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

DataOrder::DataOrder(int64_t n_examples, int64_t global_batch, uint64_t seed)
    : n_(n_examples), global_batch_(global_batch), seed_(seed) {
  FID_CHECK(n_examples >= global_batch, "the training set has ", n_examples,
            " examples, fewer than one global batch (", global_batch,
            " = ranks x --per_gpu_batch_size): lower the batch size or add data");
  batches_per_epoch_ = n_examples / global_batch;
}

void DataOrder::ensure_epoch(int64_t epoch) {
  if (epoch == epoch_) return;
  perm_.resize(static_cast<size_t>(n_));
  std::iota(perm_.begin(), perm_.end(), 0);
  // Fisher-Yates with a portable generator: the same order on every rank and
  // every machine.
  uint64_t state = mix(seed_ * 1000003ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n_ - 1; i > 0; --i) {
    state = mix(state);
    auto j = static_cast<int64_t>(state % static_cast<uint64_t>(i + 1));
    std::swap(perm_[static_cast<size_t>(i)], perm_[static_cast<size_t>(j)]);
  }
  epoch_ = epoch;
}

std::vector<int64_t> DataOrder::rank_slice(int64_t step, int rank, int64_t per_rank_batch) {
  const int64_t epoch = step / batches_per_epoch_;
  const int64_t within = step % batches_per_epoch_;
  ensure_epoch(epoch);
  const int64_t begin = within * global_batch_ + rank * per_rank_batch;
  FID_CHECK(begin + per_rank_batch <= n_, "data order: slice beyond the epoch");
  return {perm_.begin() + begin, perm_.begin() + begin + per_rank_batch};
}

}  // namespace fid::train
