#include "model/t5_kernels.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "common/error.h"
#include "common/kernel_clones.h"

namespace fid::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kGrain = 32768;  // elements per parallel task

// ---- counter-based dropout masks ------------------------------------------

// An element's draw is two rounds of murmur3's finaliser (a bijection),
// keyed by both halves of the seed: fmix32(fmix32(lo ^ k0) + (k1 ^ hi)) for
// index hi * 2^32 + lo. For a fixed seed, distinct indices below 2^32 get
// distinct draws, and seeds differing in either half give unrelated sequences.
struct Mask {
  uint32_t k0, k1;
  int32_t threshold;  // keep when (draw >> 1) >= threshold: p in steps of 2^-31
  float scale;        // 1 / (1 - p)
};

Mask make_mask(uint64_t seed, double p) {
  const double t = std::ldexp(p, 31);
  return {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
          t >= 2147483647.0 ? 2147483647 : static_cast<int32_t>(t), static_cast<float>(1.0 / (1.0 - p))};
}

uint64_t draw_seed() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

// The span kernels take pointers already offset to the span's first element,
// whose index has upper half `hi` and lower half `lo`; spans never cross a
// multiple of 2^32 (for_elements splits them). Dropped elements are x * 0, as
// in ATen's dropout (so inf and NaN stay visible).
//
// FID_KEEP_FACTOR(m, hi, i) is scale if element i of the span is kept, else
// 0: draw() spelled out, because a target clone cannot inline a default-target
// helper, and the keep test as an int32 turned into a float, because with a
// branch or a select GCC does not vectorise.
#define FID_FMIX32(h) (h ^= h >> 16, h *= 0x85ebca6bu, h ^= h >> 13, h *= 0xc2b2ae35u, h ^= h >> 16)
#define FID_KEEP_FACTOR(m, hi, lo_i, out_factor)                         \
  do {                                                                   \
    uint32_t h_ = (lo_i) ^ (m).k0;                                       \
    FID_FMIX32(h_);                                                      \
    h_ += (m).k1 ^ (hi);                                                 \
    FID_FMIX32(h_);                                                      \
    const int32_t keep_ = static_cast<int32_t>(h_ >> 1) >= (m).threshold; \
    out_factor = static_cast<float>(keep_) * (m).scale;                  \
  } while (0)

// out = x * keep_factor
FID_KERNEL void dropout_span(const float* __restrict x, float* __restrict out, int64_t n, uint32_t hi,
                             uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    out[j] = x[j] * f;
  }
}

// out = r + y * keep_factor
FID_KERNEL void dropout_add_span(const float* __restrict r, const float* __restrict y, float* __restrict out,
                                 int64_t n, uint32_t hi, uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    out[j] = r[j] + y[j] * f;
  }
}

// out = max(h, 0) * keep_factor
FID_KERNEL void relu_dropout_span(const float* __restrict h, float* __restrict out, int64_t n, uint32_t hi,
                                  uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    out[j] = std::max(h[j], 0.0f) * f;
  }
}

// grad_h = out > 0 ? g * scale : 0 (ReLU's convention at 0)
FID_KERNEL void relu_dropout_grad_span(const float* __restrict out, const float* __restrict g,
                                       float* __restrict gh, int64_t n, float scale) {
  for (int64_t j = 0; j < n; ++j) {
    const int32_t positive = out[j] > 0.0f;
    gh[j] = static_cast<float>(positive) * (g[j] * scale);
  }
}

// f(begin, count, hi, lo) over [0, n) in parallel, spans split at multiples of 2^32.
template <typename F>
void for_elements(int64_t n, const F& f) {
  at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
    while (b < e) {
      const int64_t stop = std::min<int64_t>(e, (b | int64_t{0xffffffff}) + 1);
      f(b, stop - b, static_cast<uint32_t>(static_cast<uint64_t>(b) >> 32), static_cast<uint32_t>(b));
      b = stop;
    }
  });
}

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

class DropoutFn : public torch::autograd::Function<DropoutFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double p) {
    RECORD_FUNCTION("fid::dropout", std::vector<c10::IValue>());
    const uint64_t seed = draw_seed();
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    at::Tensor xc = x.contiguous(), out = at::empty_like(xc);
    const Mask m = make_mask(seed, p);
    const float* xp = xc.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for_elements(xc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) { dropout_span(xp + b, op + b, n, hi, lo, m); });
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor()};
    const Mask m = make_mask(static_cast<uint64_t>(ctx->saved_data["seed"].toInt()),
                             ctx->saved_data["p"].toDouble());
    at::Tensor g = grads[0].contiguous(), gx = at::empty_like(g);
    const float* gp = g.data_ptr<float>();
    float* op = gx.data_ptr<float>();
    for_elements(g.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) { dropout_span(gp + b, op + b, n, hi, lo, m); });
    return {gx, at::Tensor()};
  }
};

class DropoutAddFn : public torch::autograd::Function<DropoutAddFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& r, const at::Tensor& y, double p) {
    RECORD_FUNCTION("fid::dropout_add", std::vector<c10::IValue>());
    const uint64_t seed = draw_seed();
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    at::Tensor rc = r.contiguous(), yc = y.contiguous(), out = at::empty_like(rc);
    const Mask m = make_mask(seed, p);
    const float *rp = rc.data_ptr<float>(), *yp = yc.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for_elements(rc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
      dropout_add_span(rp + b, yp + b, op + b, n, hi, lo, m);
    });
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const Mask m = make_mask(static_cast<uint64_t>(ctx->saved_data["seed"].toInt()),
                             ctx->saved_data["p"].toDouble());
    at::Tensor g = grads[0].contiguous(), gy = at::empty_like(g);
    const float* gp = g.data_ptr<float>();
    float* op = gy.data_ptr<float>();
    for_elements(g.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) { dropout_span(gp + b, op + b, n, hi, lo, m); });
    return {grads[0], gy, at::Tensor()};
  }
};

class ReluDropoutFn : public torch::autograd::Function<ReluDropoutFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& h, double p) {
    RECORD_FUNCTION("fid::relu_dropout", std::vector<c10::IValue>());
    const Mask m = make_mask(p > 0 ? draw_seed() : 0, p);
    ctx->saved_data["scale"] = static_cast<double>(m.scale);
    at::Tensor hc = h.contiguous(), out = at::empty_like(hc);
    const float* hp = hc.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for_elements(hc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
      relu_dropout_span(hp + b, op + b, n, hi, lo, m);
    });
    ctx->save_for_backward({out});
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor()};
    const at::Tensor out = ctx->get_saved_variables()[0];
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    at::Tensor g = grads[0].contiguous(), gh = at::empty_like(g);
    const float *outp = out.data_ptr<float>(), *gp = g.data_ptr<float>();
    float* ghp = gh.data_ptr<float>();
    for_elements(g.numel(), [&](int64_t b, int64_t n, uint32_t, uint32_t) {
      relu_dropout_grad_span(outp + b, gp + b, ghp + b, n, scale);
    });
    return {gh, at::Tensor()};
  }
};

bool fused(const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.device().is_cpu(); }

void check_p(double p) { FID_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p); }

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (fused(x) && fused(weight)) return RmsNormFn::apply(x, weight, eps);
  // The variance is taken in float32 even when activations are bfloat16.
  at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor y = x * at::rsqrt(variance + eps);
  if (weight.scalar_type() != at::kFloat) y = y.to(weight.scalar_type());
  return weight * y;
}

at::Tensor fused_dropout(const at::Tensor& x, double p, bool train) {
  if (!train || p == 0) return x;
  check_p(p);
  if (!fused(x)) return at::dropout(x, p, true);
  return DropoutFn::apply(x, p);
}

at::Tensor dropout_add(const at::Tensor& residual, const at::Tensor& y, double p, bool train) {
  if (!train || p == 0) return residual + y;
  check_p(p);
  if (!fused(residual) || !fused(y) || residual.sizes() != y.sizes()) return residual + at::dropout(y, p, true);
  return DropoutAddFn::apply(residual, y, p);
}

at::Tensor relu_dropout(const at::Tensor& h, double p, bool train) {
  if (!train) p = 0;
  check_p(p);
  if (!fused(h)) return at::dropout(at::relu(h), p, train);
  return ReluDropoutFn::apply(h, p);
}

bool dropout_keeps(uint64_t seed, int64_t index, double p) {
  const Mask m = make_mask(seed, p);
  const auto i = static_cast<uint64_t>(index);
  float f;
  FID_KEEP_FACTOR(m, static_cast<uint32_t>(i >> 32), static_cast<uint32_t>(i), f);
  return f != 0.0f;
}

}  // namespace fid::model
