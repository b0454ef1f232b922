// Token ids built on the host (std::vector<int64_t>) as LibTorch tensors.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace fid::runtime {

// Plain row-major int64 values as a tensor of `shape` (a copy).
inline at::Tensor long_tensor(const std::vector<int64_t>& values, at::IntArrayRef shape) {
  return at::from_blob(const_cast<int64_t*>(values.data()), shape, at::kLong).clone();
}

}  // namespace fid::runtime
