#include "train/schedule.h"

#include <algorithm>

#include "common/error.h"

namespace fid::train {

LrSchedule::LrSchedule(const ScheduleOptions& options) : options_(options) {
  FID_CHECK(options.kind == "fixed" || options.kind == "linear",
            "--scheduler must be 'fixed' or 'linear', got '", options.kind, "'");
  FID_CHECK(options.warmup_steps >= 0, "--warmup_steps must be >= 0");
  scheduler_steps_ = options.scheduler_steps > 0 ? options.scheduler_steps : options.total_steps;
}

double LrSchedule::factor(int64_t step) const {
  if (options_.kind == "fixed") return 1.0;
  const double min_ratio = options_.min_ratio;
  if (step < options_.warmup_steps) {
    return (1.0 - min_ratio) * static_cast<double>(step) /
               static_cast<double>(std::max<int64_t>(1, options_.warmup_steps)) +
           min_ratio;
  }
  if (options_.fixed_lr) return 1.0;
  const double span = std::max(1.0, static_cast<double>(scheduler_steps_ - options_.warmup_steps));
  return std::max(0.0, 1.0 + (min_ratio - 1.0) *
                                 static_cast<double>(step - options_.warmup_steps) / span);
}

}  // namespace fid::train
