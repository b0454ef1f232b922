// Dynamic loss scaling for float16 training, torch.cuda.amp.GradScaler's
// rule: the loss is multiplied by `scale` before backward so that small
// gradients survive float16; the summed gradients are divided by it before
// clipping and the optimizer step. A step whose gradients hold an inf or a
// NaN is skipped and the scale halves; after `growth_interval` clean steps
// in a row it doubles. Gradients are checked after the all-reduce, where
// every rank holds the same values, so every rank takes the same decision
// without another collective.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace fid::train {

struct LossScalerOptions {
  bool enabled = false;
  double init_scale = 65536.0;  // 2^16, as GradScaler
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});

  bool enabled() const { return o_.enabled; }
  // What the loss is multiplied by before backward (1 when disabled).
  double scale() const { return o_.enabled ? scale_ : 1.0; }

  // Divides every defined gradient by the scale; false when any of them
  // holds an inf or a NaN (the step must then be skipped). True and no work
  // when disabled.
  bool unscale(const std::vector<at::Tensor>& params) const;

  // After each optimizer step (taken or skipped): backoff on overflow,
  // growth after growth_interval clean steps.
  void update(bool overflowed);

  int64_t skipped_steps() const { return skipped_; }

  // For checkpoints: scale, clean-step count and skipped steps.
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  LossScalerOptions o_;
  double scale_;
  int64_t clean_steps_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace fid::train
