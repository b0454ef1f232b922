// Dropout as fused CPU kernels (declared in t5_kernels.h): inverted dropout,
// residual + dropout and dropout(relu), float32 and bfloat16, with masks from
// a counter-based hash of (seed, element index) so that backward regenerates
// the mask instead of storing it.
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
#include "model/bf16_bits.h"

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

// ---- the same kernels on bfloat16 (autocast's activations) ----------------

// out = x * keep_factor, bfloat16 in and out
FID_KERNEL void dropout_span_bf16(const uint16_t* __restrict x, uint16_t* __restrict out, int64_t n, uint32_t hi,
                                  uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    FID_F32_TO_BF16(FID_BF16_TO_F32(x[j]) * f, out[j]);
  }
}

// out = x * keep_factor, float32 in, bfloat16 out (the gradient of a
// bfloat16 input from a float32 output)
FID_KERNEL void dropout_span_to_bf16(const float* __restrict x, uint16_t* __restrict out, int64_t n, uint32_t hi,
                                     uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    FID_F32_TO_BF16(x[j] * f, out[j]);
  }
}

// out = r + y * keep_factor: a float32 residual stream plus a bfloat16 branch
// (type promotion gives float32, as r + y would)
FID_KERNEL void dropout_add_span_bf16(const float* __restrict r, const uint16_t* __restrict y,
                                      float* __restrict out, int64_t n, uint32_t hi, uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    out[j] = r[j] + FID_BF16_TO_F32(y[j]) * f;
  }
}

// out = max(h, 0) * keep_factor, bfloat16
FID_KERNEL void relu_dropout_span_bf16(const uint16_t* __restrict h, uint16_t* __restrict out, int64_t n,
                                       uint32_t hi, uint32_t lo, const Mask m) {
  for (int64_t j = 0; j < n; ++j) {
    float f;
    FID_KEEP_FACTOR(m, hi, lo + static_cast<uint32_t>(j), f);
    FID_F32_TO_BF16(std::max(FID_BF16_TO_F32(h[j]), 0.0f) * f, out[j]);
  }
}

// grad_h = out > 0 ? g * scale : 0, bfloat16
FID_KERNEL void relu_dropout_grad_span_bf16(const uint16_t* __restrict out, const uint16_t* __restrict g,
                                            uint16_t* __restrict gh, int64_t n, float scale) {
  for (int64_t j = 0; j < n; ++j) {
    const int32_t positive = FID_BF16_TO_F32(out[j]) > 0.0f;
    FID_F32_TO_BF16(static_cast<float>(positive) * (FID_BF16_TO_F32(g[j]) * scale), gh[j]);
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

// out = x * keep_factor for x in float32 or bfloat16 (out in x's dtype).
at::Tensor apply_mask(const at::Tensor& x, const Mask& m) {
  at::Tensor xc = x.contiguous(), out = at::empty_like(xc);
  if (is_bf16(xc)) {
    const uint16_t* xp = bf16_ptr(xc);
    uint16_t* op = bf16_ptr(out);
    for_elements(xc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) { dropout_span_bf16(xp + b, op + b, n, hi, lo, m); });
  } else {
    const float* xp = xc.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for_elements(xc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) { dropout_span(xp + b, op + b, n, hi, lo, m); });
  }
  return out;
}

// A gradient in the dtype of the input it belongs to (autograd hands over the
// output's, which is the same here but for the mixed residual sum).
at::Tensor grad_as(const at::Tensor& g, int64_t dtype) {
  const auto t = static_cast<at::ScalarType>(dtype);
  return g.scalar_type() == t ? g : g.to(t);
}

class DropoutFn : public torch::autograd::Function<DropoutFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double p) {
    RECORD_FUNCTION("fid::dropout", std::vector<c10::IValue>());
    const uint64_t seed = draw_seed();
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    ctx->saved_data["dtype"] = static_cast<int64_t>(x.scalar_type());
    return apply_mask(x, make_mask(seed, p));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor()};
    const Mask m = make_mask(static_cast<uint64_t>(ctx->saved_data["seed"].toInt()),
                             ctx->saved_data["p"].toDouble());
    return {apply_mask(grad_as(grads[0], ctx->saved_data["dtype"].toInt()), m), at::Tensor()};
  }
};

// residual + dropout(y): both float32, or a float32 residual and a bfloat16 y
// (autocast's products); the sum is float32 either way.
class DropoutAddFn : public torch::autograd::Function<DropoutAddFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& r, const at::Tensor& y, double p) {
    RECORD_FUNCTION("fid::dropout_add", std::vector<c10::IValue>());
    const uint64_t seed = draw_seed();
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    ctx->saved_data["y_bf16"] = is_bf16(y);
    at::Tensor rc = r.contiguous(), yc = y.contiguous(), out = at::empty_like(rc);
    const Mask m = make_mask(seed, p);
    const float* rp = rc.data_ptr<float>();
    float* op = out.data_ptr<float>();
    if (is_bf16(yc)) {
      const uint16_t* yp = bf16_ptr(yc);
      for_elements(rc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
        dropout_add_span_bf16(rp + b, yp + b, op + b, n, hi, lo, m);
      });
    } else {
      const float* yp = yc.data_ptr<float>();
      for_elements(rc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
        dropout_add_span(rp + b, yp + b, op + b, n, hi, lo, m);
      });
    }
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const Mask m = make_mask(static_cast<uint64_t>(ctx->saved_data["seed"].toInt()),
                             ctx->saved_data["p"].toDouble());
    at::Tensor g = grads[0].to(at::kFloat).contiguous();
    if (!ctx->saved_data["y_bf16"].toBool()) return {grads[0], apply_mask(g, m), at::Tensor()};
    at::Tensor gy = at::empty(g.sizes(), g.options().dtype(at::kBFloat16));
    const float* gp = g.data_ptr<float>();
    uint16_t* op = bf16_ptr(gy);
    for_elements(g.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
      dropout_span_to_bf16(gp + b, op + b, n, hi, lo, m);
    });
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
    if (is_bf16(hc)) {
      const uint16_t* hp = bf16_ptr(hc);
      uint16_t* op = bf16_ptr(out);
      for_elements(hc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
        relu_dropout_span_bf16(hp + b, op + b, n, hi, lo, m);
      });
    } else {
      const float* hp = hc.data_ptr<float>();
      float* op = out.data_ptr<float>();
      for_elements(hc.numel(), [&](int64_t b, int64_t n, uint32_t hi, uint32_t lo) {
        relu_dropout_span(hp + b, op + b, n, hi, lo, m);
      });
    }
    ctx->save_for_backward({out});
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor()};
    const at::Tensor out = ctx->get_saved_variables()[0];
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    at::Tensor g = grad_as(grads[0], static_cast<int64_t>(out.scalar_type())).contiguous(), gh = at::empty_like(g);
    if (is_bf16(out)) {
      const uint16_t *outp = bf16_ptr(out), *gp = bf16_ptr(g);
      uint16_t* ghp = bf16_ptr(gh);
      for_elements(g.numel(), [&](int64_t b, int64_t n, uint32_t, uint32_t) {
        relu_dropout_grad_span_bf16(outp + b, gp + b, ghp + b, n, scale);
      });
    } else {
      const float *outp = out.data_ptr<float>(), *gp = g.data_ptr<float>();
      float* ghp = gh.data_ptr<float>();
      for_elements(g.numel(), [&](int64_t b, int64_t n, uint32_t, uint32_t) {
        relu_dropout_grad_span(outp + b, gp + b, ghp + b, n, scale);
      });
    }
    return {gh, at::Tensor()};
  }
};

bool fused(const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.device().is_cpu(); }
// Dropout's kernels also take bfloat16.
bool fused_or_bf16(const at::Tensor& t) { return fused(t) || (is_bf16(t) && t.device().is_cpu()); }

void check_p(double p) { FID_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p); }

}  // namespace

at::Tensor fused_dropout(const at::Tensor& x, double p, bool train) {
  if (!train || p == 0) return x;
  check_p(p);
  if (!fused_or_bf16(x)) return at::dropout(x, p, true);
  return DropoutFn::apply(x, p);
}

at::Tensor dropout_add(const at::Tensor& residual, const at::Tensor& y, double p, bool train) {
  if (!train || p == 0) return residual + y;
  check_p(p);
  if (!fused(residual) || !fused_or_bf16(y) || residual.sizes() != y.sizes())
    return residual + fused_dropout(y, p, true);
  return DropoutAddFn::apply(residual, y, p);
}

at::Tensor relu_dropout(const at::Tensor& h, double p, bool train) {
  if (!train) p = 0;
  check_p(p);
  // Nothing to drop and no gradient to take: ATen's ReLU, without the mask's
  // hashing (a sixth of a bf16 decoding step went there).
  if (p == 0 && !(h.requires_grad() && at::GradMode::is_enabled())) return at::relu(h);
  if (!fused_or_bf16(h)) return at::dropout(at::relu(h), p, train);
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
