#include "model/lm_head.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/kernel_clones.h"
#include "model/autocast.h"
#include "model/t5_layers.h"

namespace fid::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows [v0, v1) of dW = g^T x: dW[v, :] = sum_t gt[v, t] * x[t, :], with
// gt = g^T (vocab, T) contiguous and x (T, d). Each output row is written
// once; x stays in cache across rows.
FID_KERNEL void weight_grad_rows(const float* __restrict gt, const float* __restrict x, float* __restrict dw,
                                 int64_t v0, int64_t v1, int64_t t_rows, int64_t d) {
  for (int64_t v = v0; v < v1; ++v) {
    float* __restrict out = dw + v * d;
    const float* g = gt + v * t_rows;
    const float g0 = g[0];
    for (int64_t j = 0; j < d; ++j) out[j] = g0 * x[j];
    for (int64_t t = 1; t < t_rows; ++t) {
      const float gv = g[t];
      const float* __restrict xt = x + t * d;
      for (int64_t j = 0; j < d; ++j) out[j] += gv * xt[j];
    }
  }
}

// g (T, vocab), x (T, d) -> (vocab, d) contiguous.
at::Tensor weight_grad(const at::Tensor& g, const at::Tensor& x) {
  RECORD_FUNCTION("fid::lm_head_weight_grad", std::vector<c10::IValue>({g, x}));
  const at::Tensor gt = g.t().contiguous();  // (vocab, T)
  const at::Tensor xc = x.contiguous();
  const int64_t vocab = gt.size(0), t_rows = gt.size(1), d = xc.size(1);
  at::Tensor dw = at::empty({vocab, d}, x.options());
  const float *gp = gt.data_ptr<float>(), *xp = xc.data_ptr<float>();
  float* wp = dw.data_ptr<float>();
  at::parallel_for(0, vocab, 256, [&](int64_t v0, int64_t v1) { weight_grad_rows(gp, xp, wp, v0, v1, t_rows, d); });
  return dw;
}

class LmHeadFn : public torch::autograd::Function<LmHeadFn> {
 public:
  // x2 (T, d), w (vocab, d) -> (T, vocab)
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x2, const at::Tensor& w) {
    ctx->save_for_backward({x2, w});
    return at::mm(x2, w.t());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x2 = saved[0], &w = saved[1];
    const at::Tensor g = grads[0];
    if (!g.defined()) return {at::Tensor(), at::Tensor()};
    at::Tensor dx = ctx->needs_input_grad(0) ? at::mm(g, w) : at::Tensor();  // (T, d)
    at::Tensor dw = ctx->needs_input_grad(1) ? weight_grad(g, x2) : at::Tensor();
    return {dx, dw};
  }
};

}  // namespace

at::Tensor lm_head_product(const at::Tensor& x, const at::Tensor& weight) {
  const bool fused = x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat && x.device().is_cpu() &&
                     weight.device().is_cpu() && weight.dim() == 2 && x.dim() >= 1 && x.numel() > 0 &&
                     x.size(-1) == weight.size(1) && !autocast_flags(c10::DeviceType::CPU).enabled;
  // A single row (a decoding step) and what the kernel does not take.
  if (!fused || x.numel() == x.size(-1)) return t5_linear(x, weight);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  return LmHeadFn::apply(x.reshape({-1, x.size(-1)}), weight).view(shape);
}

}  // namespace fid::model
