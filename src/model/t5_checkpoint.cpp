// Gradient checkpointing of encoder blocks. LibTorch has no C++ checkpoint(),
// so this is the recomputing autograd function: forward runs the block without
// recording a graph and keeps only its inputs and the RNG state; backward
// replays the block with the same dropout masks and the same autocast state
// (backward runs after the autocast scope has closed), and differentiates it.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/autograd.h>

#include <mutex>

#include "model/autocast.h"
#include "model/t5.h"

namespace fid::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The generator that draws the block's dropout masks: the CPU's, or the
// GPU's the block runs on.
at::Tensor rng_state(const c10::Device& device) {
  auto gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_rng_state(const c10::Device& device, const at::Tensor& state) {
  auto gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

class EncoderBlockCheckpoint : public torch::autograd::Function<EncoderBlockCheckpoint> {
 public:
  // Inputs: hidden (B, L, d), bias (B, H, L, L), then the block's parameters
  // (so that autograd routes their gradients through this node).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden,
                               const at::Tensor& bias, at::TensorList params, T5Block* block) {
    ctx->saved_data["rng"] = rng_state(hidden.device());
    const AutocastFlags autocast = autocast_flags(hidden.device().type());
    ctx->saved_data["autocast"] = autocast.enabled;
    ctx->saved_data["autocast_dtype"] = static_cast<int64_t>(autocast.dtype);
    ctx->saved_data["block"] = reinterpret_cast<int64_t>(block);
    ctx->saved_data["n_params"] = static_cast<int64_t>(params.size());
    ctx->save_for_backward({hidden, bias});
    at::Tensor out;
    {
      at::NoGradGuard no_grad;
      out = block->forward_encoder(hidden, bias);
    }
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto* block = reinterpret_cast<T5Block*>(ctx->saved_data["block"].toInt());
    const int64_t n_params = ctx->saved_data["n_params"].toInt();
    auto saved = ctx->get_saved_variables();
    at::Tensor hidden = saved[0].detach().requires_grad_(saved[0].requires_grad());
    at::Tensor bias = saved[1].detach().requires_grad_(saved[1].requires_grad());
    // Replay with the forward's dropout masks, then restore the RNG so that
    // the rest of training draws the same numbers as without checkpointing.
    const c10::Device device = hidden.device();
    const at::Tensor now = rng_state(device);
    set_rng_state(device, ctx->saved_data["rng"].toTensor());
    at::Tensor out;
    {
      at::AutoGradMode grad_on(true);
      // The forward's autocast state, re-entered: a block that ran in bf16
      // is recomputed in bf16 (as torch.utils.checkpoint does), so that its
      // gradient is that of the forward that was run.
      AutocastState autocast(device.type(), AutocastFlags{ctx->saved_data["autocast"].toBool(),
                                                          static_cast<int>(ctx->saved_data["autocast_dtype"].toInt())});
      out = block->forward_encoder(hidden, bias);
    }
    set_rng_state(device, now);

    std::vector<at::Tensor> params = block->parameters();
    variable_list inputs;
    std::vector<int> where;  // index into the returned gradients
    if (hidden.requires_grad()) inputs.push_back(hidden), where.push_back(0);
    if (bias.requires_grad()) inputs.push_back(bias), where.push_back(1);
    for (int64_t i = 0; i < n_params; ++i)
      if (params[i].requires_grad()) inputs.push_back(params[i]), where.push_back(2 + i);
    variable_list grads(2 + n_params + 1);  // + the block pointer (no gradient)
    if (!inputs.empty()) {
      variable_list g = torch::autograd::grad({out}, inputs, {grad_out[0]},
                                              /*retain_graph=*/false, /*create_graph=*/false,
                                              /*allow_unused=*/true);
      for (size_t i = 0; i < g.size(); ++i) grads[where[i]] = g[i];
    }
    return grads;
  }
};

}  // namespace

at::Tensor checkpointed_encoder_block(T5Block& block, const at::Tensor& hidden,
                                      const at::Tensor& bias) {
  std::vector<at::Tensor> params = block.parameters();
  return EncoderBlockCheckpoint::apply(hidden, bias, at::TensorList(params), &block)[0];
}

}  // namespace fid::model
