// Dynamic loss scaling (train/loss_scaler.h): the scaler's rule on its own,
// and through the training loop that every trainer runs, where an overflow
// must skip exactly one update and halve the scale, and a power-of-two
// scale must change nothing where nothing overflows.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <limits>

#include "common/files.h"
#include "dist/world.h"
#include "support/test_util.h"
#include "train/checkpoint.h"
#include "train/loss_scaler.h"
#include "train/train_loop.h"

namespace fid::train {
namespace {

TEST(LossScaler, BacksOffOnOverflowAndGrowsAfterCleanSteps) {
  LossScalerOptions o;
  o.enabled = true;
  o.init_scale = 1024;
  o.growth_interval = 3;
  LossScaler s(o);
  EXPECT_DOUBLE_EQ(s.scale(), 1024);
  s.update(false);
  s.update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 1024);
  s.update(true);  // resets the clean run
  EXPECT_DOUBLE_EQ(s.scale(), 512);
  s.update(false);
  s.update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 512);
  s.update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 1024);
  EXPECT_EQ(s.skipped_steps(), 1);

  LossScaler restored(o);
  restored.load_state(s.state());
  EXPECT_DOUBLE_EQ(restored.scale(), 1024);
  EXPECT_EQ(restored.skipped_steps(), 1);

  LossScaler off;  // disabled: scale 1, no work, never an overflow
  EXPECT_DOUBLE_EQ(off.scale(), 1.0);
}

TEST(LossScaler, UnscaleDividesAndFindsInfAndNan) {
  LossScalerOptions o;
  o.enabled = true;
  o.init_scale = 8;
  LossScaler s(o);
  at::Tensor a = torch::ones({3}, torch::requires_grad());
  at::Tensor b = torch::ones({2}, torch::requires_grad());
  at::Tensor unused = torch::ones({2}, torch::requires_grad());  // no gradient: skipped
  a.mutable_grad() = torch::tensor({8.0f, 16.0f, -4.0f});
  b.mutable_grad() = torch::tensor({2.0f, 0.0f});
  EXPECT_TRUE(s.unscale({a, b, unused}));
  EXPECT_TRUE(torch::equal(a.grad(), torch::tensor({1.0f, 2.0f, -0.5f})));
  EXPECT_TRUE(torch::equal(b.grad(), torch::tensor({0.25f, 0.0f})));
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    b.mutable_grad() = torch::tensor({1.0f, bad});
    EXPECT_FALSE(s.unscale({a, b})) << bad;
  }
  LossScaler off;
  b.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity()});
  EXPECT_TRUE(off.unscale({b})) << "a disabled scaler never skips a step";
}

// y = w.x + c, regressed onto fixed targets; at `overflow_step` the loss is
// multiplied by 1e36, so that loss x scale overflows float32 as a float16
// loss would overflow float16.
class LinearTask : public TrainTask {
 public:
  explicit LinearTask(int64_t overflow_step) : overflow_step_(overflow_step) {
    torch::manual_seed(5);
    model_ = torch::nn::Linear(4, 1);
    x_ = torch::randn({8, 4});
    y_ = torch::randn({8, 1});
  }
  torch::nn::Module& module() override { return *model_; }
  int64_t num_examples() const override { return 8; }
  double prepare(int, const std::vector<int64_t>& indices, int64_t step) override {
    batch_ = torch::tensor(indices, torch::kLong);
    step_ = step;
    return static_cast<double>(indices.size());
  }
  at::Tensor loss(int) override {
    at::Tensor l = (model_(x_.index_select(0, batch_)) - y_.index_select(0, batch_)).pow(2).mean();
    return step_ + 1 == overflow_step_ ? l * 1e36 : l;
  }
  std::map<std::string, double> evaluate(dist::Communicator&) override { return {}; }
  std::string selection_metric() const override { return "loss"; }
  bool higher_is_better() const override { return false; }
  void save_model(const std::string& dir) override {
    std::vector<at::Tensor> p;
    for (const auto& t : model_->parameters()) p.push_back(t.detach().clone());
    torch::save(p, join_path(dir, "weights.pt"));
  }

 private:
  int64_t overflow_step_;
  torch::nn::Linear model_{nullptr};
  at::Tensor x_, y_, batch_;
  int64_t step_ = 0;
};

LoopOptions loop_options(const std::string& dir, bool scaling) {
  LoopOptions o;
  o.name = "run";
  o.checkpoint_dir = dir;
  o.per_gpu_batch_size = 2;
  o.eval_freq = 1000;
  o.save_freq = 1;
  o.schedule.total_steps = 6;
  o.schedule.kind = "fixed";
  o.optim.lr = 0.05;
  o.loss_scaling.enabled = scaling;
  o.loss_scaling.init_scale = 1024;
  o.loss_scaling.growth_interval = 2;
  return o;
}

std::vector<at::Tensor> weights_at(const std::string& dir, int64_t step) {
  std::vector<at::Tensor> p;
  torch::load(p, join_path(CheckpointManager(dir, "run").checkpoint_path("step-" + std::to_string(step)),
                           "weights.pt"));
  return p;
}

bool same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return a.size() == b.size();
}

std::vector<nlohmann::json> records(const std::string& dir) {
  std::ifstream in(join_path(CheckpointManager(dir, "run").run_dir(), "metrics.jsonl"));
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

void train(const std::string& dir, bool scaling, int64_t overflow_step) {
  auto comm = dist::make_local_communicator();
  LinearTask task(overflow_step);
  LoopOptions o = loop_options(dir, scaling);
  run_training(*comm, task, o, StartPoint{"unused", false});
}

TEST(LossScalingLoop, AnOverflowSkipsOneUpdateHalvesTheScaleAndTrainingGoesOn) {
  testing::TempDir dir;
  train(dir.path(), /*scaling=*/true, /*overflow_step=*/3);
  // Step 3's gradients overflowed: its update is skipped, the weights stay.
  EXPECT_TRUE(same(weights_at(dir.path(), 3), weights_at(dir.path(), 2)));
  EXPECT_FALSE(same(weights_at(dir.path(), 4), weights_at(dir.path(), 3))) << "training goes on after it";
  for (const at::Tensor& t : weights_at(dir.path(), 6)) EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
  // The scale after each step: growth every 2 clean steps, halved at step 3.
  const std::vector<double> scale = {1024, 2048, 1024, 1024, 2048, 2048};
  const std::vector<double> skipped = {0, 0, 1, 1, 1, 1};
  auto r = records(dir.path());
  ASSERT_EQ(r.size(), 6u);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i]["step"].get<int64_t>(), static_cast<int64_t>(i) + 1);
    EXPECT_DOUBLE_EQ(r[i]["loss_scale"].get<double>(), scale[i]) << "step " << i + 1;
    EXPECT_DOUBLE_EQ(r[i]["skipped_steps"].get<double>(), skipped[i]) << "step " << i + 1;
  }
}

TEST(LossScalingLoop, APowerOfTwoScaleChangesNothingWithoutOverflow) {
  testing::TempDir scaled, plain;
  train(scaled.path(), /*scaling=*/true, /*overflow_step=*/-1);
  train(plain.path(), /*scaling=*/false, /*overflow_step=*/-1);
  for (int64_t step = 1; step <= 6; ++step)
    EXPECT_TRUE(same(weights_at(scaled.path(), step), weights_at(plain.path(), step))) << "step " << step;
  EXPECT_FALSE(records(plain.path())[0].contains("loss_scale"));
}

}  // namespace
}  // namespace fid::train
