#include "model/t5_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/kernel_clones.h"
#include "model/bf16_bits.h"

namespace fid::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kGrain = 32768;  // elements per parallel task

// ---- RMS norm ---------------------------------------------------------------

FID_KERNEL void rms_forward_rows(const float* __restrict x, const float* __restrict w, float* __restrict y,
                                 float* __restrict inv, int64_t r0, int64_t r1,
                                 int64_t d, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    // Sum of squares with 16 independent accumulators (vectorisable without
    // reassociation flags).
    float acc[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= d; j += 16)
      for (int k = 0; k < 16; ++k) acc[k] += xr[j + k] * xr[j + k];
    float sum = 0;
    for (int k = 0; k < 16; ++k) sum += acc[k];
    for (; j < d; ++j) sum += xr[j] * xr[j];
    // As transformers: rsqrt(mean(x^2) + eps) in float32, then weight * (x * rsqrt).
    const float iv = 1.0f / std::sqrt(sum / static_cast<float>(d) + eps);
    inv[r] = iv;
    for (j = 0; j < d; ++j) yr[j] = w[j] * (xr[j] * iv);
  }
}

// With xhat = x * inv and u = g * w: dx = inv * (u - xhat * mean(u * xhat)),
// dw += g * xhat (into this task's partial sum).
FID_KERNEL void rms_backward_rows(const float* __restrict x, const float* __restrict w, const float* __restrict inv,
                                  const float* __restrict g, float* __restrict dx, float* __restrict dw, int64_t r0, int64_t r1, int64_t d) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    const float* gr = g + r * d;
    float* dxr = dx + r * d;
    const float iv = inv[r];
    float acc[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= d; j += 16)
      for (int k = 0; k < 16; ++k) acc[k] += gr[j + k] * w[j + k] * xr[j + k];
    float dot = 0;
    for (int k = 0; k < 16; ++k) dot += acc[k];
    for (; j < d; ++j) dot += gr[j] * w[j] * xr[j];
    // mean(u * xhat) = inv * dot / d
    const float c = iv * iv * dot / static_cast<float>(d);
    for (int64_t k = 0; k < d; ++k) {
      dxr[k] = iv * (gr[k] * w[k] - xr[k] * c);
      dw[k] += gr[k] * (xr[k] * iv);
    }
  }
}

class RmsNormFn : public torch::autograd::Function<RmsNormFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps) {
    RECORD_FUNCTION("fid::rms_norm", std::vector<c10::IValue>());
    at::Tensor xc = x.contiguous(), w = weight.contiguous();
    const int64_t d = x.size(-1), rows = d == 0 ? 0 : xc.numel() / d;
    at::Tensor y = at::empty_like(xc);
    at::Tensor inv = at::empty({rows}, xc.options());  // (rows)
    const float* xp = xc.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* ip = inv.data_ptr<float>();
    at::parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(d, 1)), [&](int64_t b, int64_t e) {
      rms_forward_rows(xp, w.data_ptr<float>(), yp, ip, b, e, d, static_cast<float>(eps));
    });
    ctx->save_for_backward({xc, w, inv});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &inv = saved[2];
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    at::Tensor g = grads[0].contiguous();
    const int64_t d = x.size(-1), rows = d == 0 ? 0 : x.numel() / d;
    at::Tensor dx = at::empty_like(x);
    // The weight gradient is summed per chunk of rows, then over chunks: a
    // fixed partition, so that the sum does not depend on the thread count.
    const int64_t chunks = std::min<int64_t>(rows, 32), per = chunks ? (rows + chunks - 1) / chunks : 0;
    at::Tensor partial = at::zeros({std::max<int64_t>(chunks, 1), d}, x.options());  // (chunks, d)
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *ip = inv.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* pp = partial.data_ptr<float>();
    at::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c)
        rms_backward_rows(xp, wp, ip, gp, dxp, pp + c * d, c * per, std::min(rows, (c + 1) * per), d);
    });
    return {dx, partial.sum(0), at::Tensor()};
  }
};

bool fused(const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.device().is_cpu(); }

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (fused(x) && fused(weight)) return RmsNormFn::apply(x, weight, eps);
  // The variance is taken in float32 even when activations are bfloat16.
  at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor y = x * at::rsqrt(variance + eps);
  if (weight.scalar_type() != at::kFloat) y = y.to(weight.scalar_type());
  return weight * y;
}

}  // namespace fid::model
