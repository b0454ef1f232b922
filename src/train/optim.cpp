#include "train/optim.h"

#include <torch/nn/utils/clip_grad.h>

#include "common/error.h"
#include "train/fused_adam.h"

namespace fid::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimOptions& options,
                                                        const std::vector<at::Tensor>& params) {
  FID_CHECK(options.lr > 0, "--lr must be positive, got ", options.lr);
  if (options.optim == "adam") {
    return std::make_unique<FusedAdam>(params, torch::optim::AdamOptions(options.lr));
  }
  if (options.optim == "adamw") {
    return std::make_unique<FusedAdamW>(
        params, torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay));
  }
  FID_THROW("--optim must be 'adam' or 'adamw', got '", options.optim, "'");
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double learning_rate(const torch::optim::Optimizer& optimizer) {
  FID_CHECK(!optimizer.param_groups().empty(), "optimizer has no parameter groups");
  return optimizer.param_groups().front().options().get_lr();
}

void clear_gradients(const std::vector<at::Tensor>& params) {
  for (const auto& p : params) {
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
  }
}

double clip_gradients(const std::vector<at::Tensor>& params, double max_norm) {
  if (max_norm <= 0) return 0.0;
  return torch::nn::utils::clip_grad_norm_(params, max_norm);
}

}  // namespace fid::train
