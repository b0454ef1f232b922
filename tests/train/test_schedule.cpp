#include <gtest/gtest.h>

#include "common/error.h"
#include "train/schedule.h"

namespace fid::train {
namespace {

TEST(Schedule, FixedIsOne) {
  LrSchedule s(ScheduleOptions{});
  EXPECT_DOUBLE_EQ(s.factor(0), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(12345), 1.0);
}

TEST(Schedule, LinearWarmupThenDecayAsSeed) {
  ScheduleOptions o;
  o.kind = "linear";
  o.warmup_steps = 10;
  o.total_steps = 110;
  LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.factor(0), 0.0);  // the seed's first step runs at lr 0
  EXPECT_DOUBLE_EQ(s.factor(5), 0.5);
  EXPECT_DOUBLE_EQ(s.factor(10), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(60), 0.5);  // 1 - (60-10)/(110-10)
  EXPECT_DOUBLE_EQ(s.factor(110), 0.0);
  EXPECT_DOUBLE_EQ(s.factor(500), 0.0);
}

TEST(Schedule, SchedulerStepsOverrideTotalAndFixedLrHolds) {
  ScheduleOptions o;
  o.kind = "linear";
  o.warmup_steps = 0;
  o.total_steps = 100;
  o.scheduler_steps = 200;
  EXPECT_DOUBLE_EQ(LrSchedule(o).factor(100), 0.5);
  o.fixed_lr = true;
  EXPECT_DOUBLE_EQ(LrSchedule(o).factor(100), 1.0);
}

TEST(Schedule, UnknownKindNamesTheFlag) {
  ScheduleOptions o;
  o.kind = "cosine";
  try {
    LrSchedule s(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--scheduler"), std::string::npos);
  }
}

}  // namespace
}  // namespace fid::train
