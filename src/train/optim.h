// Optimizers and gradient clipping with the seed's options (--optim adam|adamw,
// --lr, --weight_decay, --clip); the learning rate is set from LrSchedule
// before every optimizer step.
#pragma once
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

namespace fid::train {

struct OptimOptions {
  std::string optim = "adam";  // adam | adamw (the seed's Adam has no weight decay)
  double lr = 1e-4;
  double weight_decay = 0.1;
  double clip = 1.0;  // max gradient norm; <= 0 disables clipping
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimOptions& options,
                                                        const std::vector<at::Tensor>& params);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
double learning_rate(const torch::optim::Optimizer& optimizer);
// Drops every parameter's gradient (PyTorch 2's zero_grad(set_to_none=True)).
// The next backward then hands its gradient tensors over instead of adding
// them into zero-filled ones: a t5-small reader step saves a zero fill and an
// add over 4 x 60M floats. The gradient reducer treats a missing gradient as
// zeros, and the optimizers skip parameters without one, as before.
void clear_gradients(const std::vector<at::Tensor>& params);

// Total gradient norm before clipping (what the seed's clip_grad_norm_ returns).
double clip_gradients(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace fid::train
