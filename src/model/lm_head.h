// The LM head's product for training, logits = x W^T with W the (vocab,
// d_model) embedding or head matrix, with a backward written for its shape.
// With T5's short targets x has few rows (t5-small FiD: 20 x 512 against
// 32128 x 512), and LibTorch's backward of the generic product spends ~130 ms
// of a 2.5 s step on it: OpenBLAS runs the weight gradient, a rank-20 update
// of a 64 MB matrix, at ~10 GFLOP/s, and the transposed result is copied once
// more into the parameter's gradient. Here the weight gradient is one pass
// that writes each row of W's gradient once, contiguous (13 ms).
#pragma once
#include <ATen/core/Tensor.h>

namespace fid::model {

// x (..., d) @ weight^T -> (..., vocab), differentiable in both. Float32 CPU
// tensors outside autocast with more than one row take the kernel; anything
// else is t5_linear.
at::Tensor lm_head_product(const at::Tensor& x, const at::Tensor& weight);

}  // namespace fid::model
