#include "train/loss_scaler.h"

#include <ATen/ATen.h>

#include "common/error.h"

namespace fid::train {

LossScaler::LossScaler(LossScalerOptions options) : o_(options), scale_(options.init_scale) {
  FID_CHECK(o_.init_scale > 0 && o_.growth_factor > 1 && o_.backoff_factor > 0 && o_.backoff_factor < 1 &&
                o_.growth_interval > 0,
            "loss scaling needs a positive initial scale, growth > 1, backoff in (0, 1) and a positive "
            "growth interval");
}

bool LossScaler::unscale(const std::vector<at::Tensor>& params) const {
  if (!o_.enabled) return true;
  at::NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;
  // One flag per device, summed on the host once: no per-tensor sync.
  std::vector<at::Tensor> bad;
  for (const at::Tensor& p : params) {
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inverse);
    bad.push_back(at::logical_not(at::isfinite(g)).any().to(at::kCPU));
  }
  for (const at::Tensor& b : bad)
    if (b.item<bool>()) return false;
  return true;
}

void LossScaler::update(bool overflowed) {
  if (!o_.enabled) return;
  if (overflowed) {
    scale_ *= o_.backoff_factor;
    clean_steps_ = 0;
    ++skipped_;
    return;
  }
  if (++clean_steps_ == o_.growth_interval) {
    scale_ *= o_.growth_factor;
    clean_steps_ = 0;
  }
}

nlohmann::json LossScaler::state() const {
  return {{"scale", scale_}, {"clean_steps", clean_steps_}, {"skipped_steps", skipped_}};
}

void LossScaler::load_state(const nlohmann::json& s) {
  scale_ = s.value("scale", o_.init_scale);
  clean_steps_ = s.value("clean_steps", int64_t{0});
  skipped_ = s.value("skipped_steps", int64_t{0});
  FID_CHECK(scale_ > 0, "checkpoint's loss scale must be positive, got ", scale_);
}

}  // namespace fid::train
