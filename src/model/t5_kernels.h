// Fused CPU kernels for T5's memory-bound operations, each an autograd
// function with a hand-written backward. Composed from ATen operators, RMS
// norm, dropout, residual adds and ReLU cost one pass over the activations
// per operator and per gradient term (about as much time as the block's
// matrix products on two cores); here each is one pass forward and one back.
//
// Dropout masks come from a counter-based hash of (seed, element index), the
// seed drawn from the default CPU generator: backward regenerates the mask
// instead of storing it, the draw is parallel, and gradient checkpointing's
// replay of the generator state reproduces the same masks.
//
// CPU float32 tensors take the fused path; the dropout kernels also take
// bfloat16 (autocast's products: ATen's bernoulli_ was a third of a bf16
// training step), with the same masks. Other dtypes and devices fall back to
// the equivalent ATen composition.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace fid::model {

// weight * x / sqrt(mean(x^2, -1) + eps), the mean over the last dimension.
// x (..., d), weight (d) -> (..., d)
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// softmax(scores + bias, -1) with the sum and the softmax in float32 and the
// result rounded to bfloat16: attention under autocast in one pass instead of
// ATen's add, softmax and cast. scores (B, H, Lq, Lk) bfloat16 on the CPU,
// bias float32 broadcastable to them with its own Lk (bias_softmax_fuses);
// backward gives both gradients (the bias's summed over its broadcast).
bool bias_softmax_fuses(const at::Tensor& scores, const at::Tensor& bias);
at::Tensor bias_softmax(const at::Tensor& scores, const at::Tensor& bias);

// Inverted dropout: zero with probability p, scale the rest by 1/(1-p).
// Identity when !train or p == 0.
at::Tensor fused_dropout(const at::Tensor& x, double p, bool train);

// residual + dropout(y), shapes equal.
at::Tensor dropout_add(const at::Tensor& residual, const at::Tensor& y, double p, bool train);

// dropout(relu(h)); the gradient needs only the output.
at::Tensor relu_dropout(const at::Tensor& h, double p, bool train);

// The keep decision of element `index` for a dropout `seed` and probability p
// (exposed for tests: the kept fraction and the masks' independence).
bool dropout_keeps(uint64_t seed, int64_t index, double p);

}  // namespace fid::model
