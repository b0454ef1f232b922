#include "model/t5_kernels.h"

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

// ---- bias + softmax on bfloat16 scores --------------------------------------

// e^x for the x = score - row maximum <= 0 of a softmax: Cephes' expf (range
// reduction by ln 2 in two parts, degree-6 polynomial, the power of two built
// in the exponent bits), written so that GCC vectorises it; x below -87 (a
// masked position) gives exactly 0, as expf does there.
#define FID_EXP_NONPOSITIVE(x_in, out)                                                           \
  do {                                                                                           \
    /* For x <= 0 the bits grow with |x|: clamping at -87 and the live test are integer    */    \
    /* operations on them (float comparisons would not vectorise without fast-math flags) */    \
    const uint32_t b_ = __builtin_bit_cast(uint32_t, (x_in));                                    \
    const float x_ = __builtin_bit_cast(float, b_ < 0xc2ae0000u ? b_ : 0xc2ae0000u);             \
    const float live_ = static_cast<float>(static_cast<int32_t>(b_ <= 0xc2ae0000u));            \
    const float t_ = x_ * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23: rounds to int */   \
    const float n_ = t_ - 12582912.0f;                                                           \
    const uint32_t e_ = __builtin_bit_cast(uint32_t, t_) - 0x4b400000u + 127u;                   \
    float r_ = x_ - n_ * 0.693359375f;                                                           \
    r_ = r_ + n_ * 2.12194440e-4f;                                                               \
    float y_ = 1.9875691500e-4f;                                                                 \
    y_ = y_ * r_ + 1.3981999507e-3f;                                                             \
    y_ = y_ * r_ + 8.3334519073e-3f;                                                             \
    y_ = y_ * r_ + 4.1665795894e-2f;                                                             \
    y_ = y_ * r_ + 1.6666665459e-1f;                                                             \
    y_ = y_ * r_ + 5.0000001201e-1f;                                                             \
    y_ = y_ * r_ * r_ + r_ + 1.0f;                                                               \
    out = y_ * __builtin_bit_cast(float, e_ << 23) * live_;                                      \
  } while (0)

// One row: p = softmax(s + bias) in float32 (p is also the scratch), out = p
// rounded to bfloat16. Maps and reductions in separate loops (GCC vectorises
// neither a fused loop nor a float reduction without reassociation), the
// reductions over 16 independent lanes.
FID_KERNEL void bias_softmax_row(const uint16_t* __restrict s, const float* __restrict bias, float* __restrict p,
                                 uint16_t* __restrict out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) p[j] = FID_BF16_TO_F32(s[j]) + bias[j];
  float lane[16];
  for (int k = 0; k < 16; ++k) lane[k] = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) lane[k] = lane[k] > p[j + k] ? lane[k] : p[j + k];
  float m = lane[0];
  for (int k = 1; k < 16; ++k) m = std::max(m, lane[k]);
  for (; j < n; ++j) m = std::max(m, p[j]);
  for (j = 0; j < n; ++j) {
    float e;
    FID_EXP_NONPOSITIVE(p[j] - m, e);
    p[j] = e;
  }
  for (int k = 0; k < 16; ++k) lane[k] = 0;
  for (j = 0; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) lane[k] += p[j + k];
  float sum = 0;
  for (int k = 0; k < 16; ++k) sum += lane[k];
  for (; j < n; ++j) sum += p[j];
  const float inv = 1.0f / sum;
  for (j = 0; j < n; ++j) {
    const float q = p[j] * inv;
    p[j] = q;
    FID_F32_TO_BF16(q, out[j]);
  }
}

// Rows of scores (B, H, Lq, Lk) with the bias row each broadcasts from. With
// `probs` defined the float32 softmax is kept there (for backward), else in a
// row of scratch per task.
at::Tensor run_bias_softmax(const at::Tensor& scores, const at::Tensor& bias, const at::Tensor& probs) {
  RECORD_FUNCTION("fid::bias_softmax", std::vector<c10::IValue>());
  const at::Tensor bx = bias.expand(scores.sizes());
  const int64_t h = scores.size(1), lq = scores.size(2), n = scores.size(3), rows = scores.numel() / std::max<int64_t>(n, 1);
  const int64_t s0 = bx.stride(0), s1 = bx.stride(1), s2 = bx.stride(2);
  const float* bp = bx.data_ptr<float>();
  const uint16_t* sp = bf16_ptr(scores);
  at::Tensor out = at::empty_like(scores);
  uint16_t* op = bf16_ptr(out);
  float* pp = probs.defined() ? probs.data_ptr<float>() : nullptr;
  at::parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    std::vector<float> scratch(pp ? 0 : n);
    for (int64_t r = b; r < e; ++r) {
      const int64_t q = r % lq, hh = (r / lq) % h, bb = r / (lq * h);
      bias_softmax_row(sp + r * n, bp + bb * s0 + hh * s1 + q * s2, pp ? pp + r * n : scratch.data(), op + r * n, n);
    }
  });
  return out;
}

class BiasSoftmaxFn : public torch::autograd::Function<BiasSoftmaxFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& scores, const at::Tensor& bias) {
    at::Tensor sc = scores.contiguous();
    at::Tensor probs = at::empty(sc.sizes(), sc.options().dtype(at::kFloat));  // (B, H, Lq, Lk)
    at::Tensor out = run_bias_softmax(sc, bias, probs);
    ctx->save_for_backward({probs});
    ctx->saved_data["bias_sizes"] = bias.sizes().vec();
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor()};
    const at::Tensor probs = ctx->get_saved_variables()[0];
    // d(scores + bias) = p * (g - sum(g * p)), in float32 as ATen's softmax;
    // each input's share only where it wants one (masks do not).
    at::Tensor d = at::_softmax_backward_data(grads[0].to(at::kFloat), probs, -1, at::kFloat);
    return {ctx->needs_input_grad(0) ? d.to(at::kBFloat16) : at::Tensor(),
            ctx->needs_input_grad(1) ? d.sum_to_size(ctx->saved_data["bias_sizes"].toIntVector()) : at::Tensor()};
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

bool bias_softmax_fuses(const at::Tensor& scores, const at::Tensor& bias) {
  return is_bf16(scores) && scores.device().is_cpu() && scores.dim() == 4 && bias.scalar_type() == at::kFloat &&
         bias.device().is_cpu() && bias.dim() == 4 && bias.size(3) == scores.size(3) &&
         at::is_expandable_to(bias.sizes(), scores.sizes());
}

at::Tensor bias_softmax(const at::Tensor& scores, const at::Tensor& bias) {
  FID_CHECK(bias_softmax_fuses(scores, bias), "bias_softmax: bfloat16 scores (B, H, Lq, Lk) on the CPU and a "
            "float32 bias broadcastable to them are needed, got ", scores.scalar_type(), " ", scores.sizes(),
            " and ", bias.scalar_type(), " ", bias.sizes());
  const at::Tensor rows = bias.stride(3) == 1 ? bias : bias.contiguous();  // the kernel reads bias rows
  if (at::GradMode::is_enabled() && (scores.requires_grad() || bias.requires_grad()))
    return BiasSoftmaxFn::apply(scores, rows);
  return run_bias_softmax(scores.contiguous(), rows, at::Tensor());
}

}  // namespace fid::model
