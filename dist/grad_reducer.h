// Data-parallel gradient averaging: after backward, gradients are packed into
// flat buckets (about 25 MB, one dtype and device each), all-reduced, divided
// and unpacked, so every rank steps its optimizer with the same gradient.
// Also: parameters broadcast from one rank at start.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dist/communicator.h"

namespace fid::dist {

constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;

// Indices of `tensors` grouped into buckets: tensors in their given order, one
// dtype and device per bucket, at most `bucket_bytes` each, except that a
// tensor larger than `bucket_bytes` gets a bucket of its own. Depends only on
// shapes, dtypes and devices, so every rank computes the same plan.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<at::Tensor>& tensors,
                                              int64_t bucket_bytes);

class GradReducer {
 public:
  // `params`: the model's parameters in the same order on every rank.
  GradReducer(Communicator& comm, std::vector<at::Tensor> params,
              int64_t bucket_bytes = kDefaultBucketBytes);

  // Every gradient becomes the mean over ranks (sum / world size).
  void average() { reduce(static_cast<double>(comm_.size())); }
  // Every gradient becomes (sum over ranks) / divisor: for weighted averages,
  // each rank scales its loss by its share and passes the total weight.
  //
  // A parameter without a gradient on this rank contributes zeros; when no
  // rank has a gradient for it, it keeps none (the optimizer skips it, as it
  // would in one process); when some rank has one, every rank gets the
  // reduced gradient, so that all ranks step identically.
  void reduce(double divisor);

  size_t num_buckets() const { return buckets_.size(); }
  const std::vector<at::Tensor>& params() const { return params_; }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into params_
    std::vector<int64_t> offsets;  // element offset of each member in flat
    at::Tensor flat;               // (total elements,) allocated on first use
  };

  Communicator& comm_;
  std::vector<at::Tensor> params_;
  std::vector<Bucket> buckets_;
};

// Copies rank `root`'s values of `tensors` (parameters, buffers) into every
// rank's, in flat buckets. Tensors must have the same shapes on all ranks.
void broadcast_parameters(Communicator& comm, const std::vector<at::Tensor>& tensors,
                          int root = 0, int64_t bucket_bytes = kDefaultBucketBytes);

}  // namespace fid::dist
