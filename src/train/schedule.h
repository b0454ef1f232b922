// Learning-rate schedules with the seed's semantics (FiD src/util.py): a
// LambdaLR whose factor is evaluated at the number of scheduler steps taken so
// far, so the first optimizer step uses factor(0) (0 under linear warm-up).
#pragma once
#include <cstdint>
#include <string>

namespace fid::train {

struct ScheduleOptions {
  std::string kind = "fixed";  // fixed | linear
  int64_t warmup_steps = 1000;
  int64_t scheduler_steps = -1;  // -1: total_steps
  int64_t total_steps = 1000;
  double min_ratio = 0.0;
  bool fixed_lr = false;  // linear warm-up, then constant
};

class LrSchedule {
 public:
  explicit LrSchedule(const ScheduleOptions& options);
  // Multiplier of the base learning rate after `scheduler_steps_taken` steps.
  double factor(int64_t scheduler_steps_taken) const;

 private:
  ScheduleOptions options_;
  int64_t scheduler_steps_;
};

}  // namespace fid::train
