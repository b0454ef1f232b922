#include "train/fused_adam.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include "common/error.h"
#include "common/kernel_clones.h"

namespace fid::train {
namespace {

// The scalars of one parameter's update, rounded to float as ATen rounds a
// double Scalar applied to a float tensor.
struct Coeffs {
  float decay;        // AdamW: p *= 1 - lr * wd (1 when no decoupled decay)
  float l2;           // Adam: grad += wd * p (0 when none)
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^step)
  float eps;
  float neg_step_size;  // -lr / (1 - beta1^step)
};

// One span of a parameter. The order of operations is LibTorch's:
//   p.mul_(decay); g = g + l2 * p; m = m * b1 + (1 - b1) * g;
//   v = v * b2 + (1 - b2) * g * g; denom = sqrt(v) / sqrt(bc2) + eps;
//   p = p + (-step_size * m) / denom
FID_KERNEL void adam_span(float* __restrict p, const float* __restrict g, float* __restrict m,
                          float* __restrict v, int64_t n, const Coeffs c) {
  for (int64_t i = 0; i < n; ++i) {
    const float pi = p[i] * c.decay;
    const float gi = g[i] + c.l2 * pi;
    const float mi = m[i] * c.beta1 + c.one_minus_beta1 * gi;
    const float vi = v[i] * c.beta2 + c.one_minus_beta2 * gi * gi;
    const float denom = std::sqrt(vi) * c.inv_sqrt_bc2 + c.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + c.neg_step_size * mi / denom;
  }
}

bool fusable(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  for (const at::Tensor* t : {&p, &g, &m, &v}) {
    if (t->is_sparse() || !t->device().is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous())
      return false;
  }
  return g.numel() == p.numel() && m.numel() == p.numel() && v.numel() == p.numel();
}

void fused_update(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const Coeffs& c) {
  float *pp = p.data_ptr<float>(), *mp = m.data_ptr<float>(), *vp = v.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  constexpr int64_t kGrain = 1 << 16;
  at::parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) {
    adam_span(pp + b, gp + b, mp + b, vp + b, e - b, c);
  });
}

// LibTorch's operators, for what the kernel does not take.
void reference_update(at::Tensor& p, at::Tensor grad, at::Tensor& m, at::Tensor& v, double decay, double l2,
                      double beta1, double beta2, double bc2, double eps, double step_size) {
  if (decay != 1.0) p.mul_(decay);
  if (l2 != 0) grad = grad.add(p, l2);
  m.mul_(beta1).add_(grad, 1 - beta1);
  v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
  p.addcdiv_(m, denom, -step_size);
}

// The step shared by both optimizers; State is AdamParamState or
// AdamWParamState, `decoupled` selects AdamW's weight decay.
template <class State, class Options, class StateMap>
at::Tensor adam_step(torch::optim::Optimizer& opt, StateMap& states, torch::optim::Optimizer::LossClosure closure,
                     bool decoupled) {
  RECORD_FUNCTION("fid::fused_adam_step", std::vector<c10::IValue>());
  torch::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable(true);
    loss = closure();
  }
  for (auto& group : opt.param_groups()) {
    auto& o = static_cast<Options&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const at::Tensor& grad = p.grad();
      FID_CHECK(!grad.is_sparse(), "Adam does not support sparse gradients");
      const OptimizerStateKey key = optimizer_state_key(p);
      auto it = states.find(key);
      if (it == states.end()) {
        auto s = std::make_unique<State>();
        s->step(0);
        s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        it = states.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<State&>(*it->second);
      s.step(s.step() + 1);
      const double bc1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
      const double bc2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
      const double decay = decoupled ? 1 - o.lr() * o.weight_decay() : 1.0;
      const double l2 = decoupled ? 0.0 : o.weight_decay();
      const double step_size = o.lr() / bc1;
      at::Tensor m = s.exp_avg(), v = s.exp_avg_sq();
      if (m.device() != p.device()) {
        // A checkpoint saved on another device is read onto the CPU.
        m = m.to(p.device());
        v = v.to(p.device());
        s.exp_avg(m);
        s.exp_avg_sq(v);
      }
      if (fusable(p, grad, m, v)) {
        const Coeffs c{static_cast<float>(decay), static_cast<float>(l2), static_cast<float>(beta1),
                       static_cast<float>(1 - beta1), static_cast<float>(beta2), static_cast<float>(1 - beta2),
                       static_cast<float>(1 / std::sqrt(bc2)), static_cast<float>(o.eps()),
                       static_cast<float>(-step_size)};
        fused_update(p, grad, m, v, c);
      } else {
        reference_update(p, grad, m, v, decay, l2, beta1, beta2, bc2, o.eps(), step_size);
      }
    }
  }
  return loss;
}

// amsgrad keeps a third moment buffer: LibTorch's step runs it.
template <class Options>
bool any_amsgrad(const torch::optim::Optimizer& opt) {
  for (const auto& group : opt.param_groups())
    if (static_cast<const Options&>(group.options()).amsgrad()) return true;
  return false;
}

// A template, so that only the branch of this LibTorch's key type compiles.
template <class Key>
Key key_of(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;  // as c10::guts::to_string prints it
    s << impl;
    return s.str();
  } else {
    return static_cast<Key>(impl);
  }
}

}  // namespace

OptimizerStateKey optimizer_state_key(const at::Tensor& p) { return key_of<OptimizerStateKey>(p.unsafeGetTensorImpl()); }

at::Tensor FusedAdam::step(LossClosure closure) {
  if (any_amsgrad<torch::optim::AdamOptions>(*this)) return torch::optim::Adam::step(std::move(closure));
  return adam_step<torch::optim::AdamParamState, torch::optim::AdamOptions>(*this, state_, std::move(closure),
                                                                           /*decoupled=*/false);
}

at::Tensor FusedAdamW::step(LossClosure closure) {
  if (any_amsgrad<torch::optim::AdamWOptions>(*this)) return torch::optim::AdamW::step(std::move(closure));
  return adam_step<torch::optim::AdamWParamState, torch::optim::AdamWOptions>(*this, state_, std::move(closure),
                                                                            /*decoupled=*/true);
}

}  // namespace fid::train
