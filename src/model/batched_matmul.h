// Batched matrix products for attention: many small products (T5-small FiD:
// 80 of 200x64x200 per layer). ATen 1.13 without MKL runs them one after the
// other, each split over OpenBLAS's threads, and reaches about a third of a
// large matmul's rate. Here the batch is split over the intra-op threads and
// each product runs whole in one thread (measured 2x faster on 2 cores).
#pragma once
#include <ATen/core/Tensor.h>

namespace fid::model {

// a (Bt, M, K) @ b (Bt, K, N) -> (Bt, M, N), differentiable; any strides with
// a unit stride in one of the two matrix dimensions are used without copies.
// Falls back to at::bmm for other dtypes, under autocast (which must see the
// product), with one intra-op thread, or when the BLAS is not OpenBLAS.
at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b);

// Whether batched_matmul splits the batch over threads in this process now.
bool batched_matmul_is_parallel();

}  // namespace fid::model
