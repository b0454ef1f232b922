// The reader on one GPU against the CPU, through the `fid` binary as users
// run it: a training step gives the CPU's weights within float32 tolerance,
// evaluation gives the CPU's answers and passage scores, a GPU checkpoint
// resumes on the CPU, and float16 training recovers from overflowing
// gradients by skipping updates and lowering the loss scale.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "data/example_reader.h"
#include "gpu_required.h"
#include "model/safetensors.h"
#include "reader_workspace.h"

namespace fid {
namespace {

class GpuReader : public ::testing::Test {
 protected:
  void SetUp() override {
    FID_REQUIRE_GPU();
    ws_ = std::make_unique<testing::ReaderWorkspace>();
  }
  void train(const std::string& name, const std::string& device, int steps, const std::string& extra = "") {
    testing::run_ok(ws_->train_command(1, name, "--device " + device + " --total_steps " + std::to_string(steps) +
                                                    " --save_freq 1 --eval_freq 1000 --per_gpu_batch_size 2 "
                                                    "--dropout 0 " + extra));
  }
  model::TensorMap weights(const std::string& name, int step) const {
    return model::read_model_weights(ws_->checkpoint(name, "step-" + std::to_string(step)));
  }
  std::vector<nlohmann::json> records(const std::string& name) const {
    std::ifstream in(ws_->path("ck/" + name + "/metrics.jsonl"));
    std::vector<nlohmann::json> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  std::unique_ptr<testing::ReaderWorkspace> ws_;
};

void expect_close(const model::TensorMap& a, const model::TensorMap& b, double rtol, double atol) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, t] : a) {
    const at::Tensor& u = b.at(k);
    EXPECT_TRUE(at::allclose(t.to(at::kFloat), u.to(at::kFloat), rtol, atol))
        << k << ": largest difference " << (t.to(at::kFloat) - u.to(at::kFloat)).abs().max().item<float>();
  }
}

TEST_F(GpuReader, TrainingStepsOnTheGpuEqualTheCpuStepsInFloat32) {
  train("cpu", "cpu", 3);
  train("gpu", "cuda", 3);
  // Adam's first steps move every weight by about lr: a GPU that computed
  // other gradients would differ by that much, float32 rounding by 1e-6.
  for (int step = 1; step <= 3; ++step) expect_close(weights("cpu", step), weights("gpu", step), 1e-4, 1e-5);
  auto c = records("cpu"), g = records("gpu");
  ASSERT_EQ(c.size(), g.size());
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_NEAR(c[i]["loss"].get<double>(), g[i]["loss"].get<double>(), 1e-5 * std::abs(c[i]["loss"].get<double>()));
}

TEST_F(GpuReader, AGpuCheckpointResumesOnTheCpu) {
  train("moved", "cuda", 2);
  train("moved", "cpu", 4, "--allow_resume_changes total_steps");  // resumes step 2 on the CPU
  train("cpu", "cpu", 4);
  expect_close(weights("moved", 4), weights("cpu", 4), 1e-4, 1e-5);
}

TEST_F(GpuReader, EvaluationOnTheGpuGivesTheCpuAnswersAndScores) {
  for (const std::string device : {"cpu", "cuda"}) {
    for (const std::string beams : {"1", "2"}) {
      testing::run_ok(ws_->test_command(1, device + beams, "--model_path " + ws_->path("t5") + " --device " + device +
                                                              " --num_beams " + beams +
                                                              " --write_results --write_crossattention_scores"));
    }
  }
  for (const std::string beams : {"1", "2"}) {
    const std::string cpu = read_file(ws_->path("ck/cpu" + beams + "/final_output.txt"));
    const std::string gpu = read_file(ws_->path("ck/cuda" + beams + "/final_output.txt"));
    EXPECT_EQ(cpu, gpu) << "beams " << beams;
  }
  auto scores = [&](const std::string& run) {
    std::vector<double> out;
    for (const auto& ex : data::read_examples(ws_->path("ck/" + run + "/dataset_wscores.json")))
      for (const auto& c : ex.ctxs) out.push_back(c.score);
    return out;
  };
  auto c = scores("cpu1"), g = scores("cuda1");
  ASSERT_EQ(c.size(), g.size());
  for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], g[i], 1e-4 * std::max(1.0, std::abs(c[i]))) << i;
}

TEST_F(GpuReader, Fp16TrainingRecoversFromOverflowingGradients) {
  // 2^40: the scaled gradients overflow float16 (largest 65504) until the
  // scale has been halved some twenty times; then updates are taken.
  train("fp16", "cuda", 40, "--precision fp16 --loss_scale_init 1099511627776");
  auto r = records("fp16");
  ASSERT_EQ(r.size(), 40u);
  const double skipped = r.back()["skipped_steps"].get<double>();
  EXPECT_GE(skipped, 10) << "the first steps must overflow at 2^40";
  EXPECT_LE(skipped, 35) << "the scale must come down far enough for updates";
  EXPECT_LT(r.back()["loss_scale"].get<double>(), 1099511627776.0);
  for (const auto& rec : r) EXPECT_TRUE(std::isfinite(rec["loss"].get<double>()));
  for (const auto& [k, t] : weights("fp16", 40)) EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << k;
  // Updates were taken: the weights moved from the start.
  const model::TensorMap start = model::read_model_weights(ws_->path("t5"));
  bool moved = false;
  for (const auto& [k, t] : weights("fp16", 40)) moved = moved || !at::equal(t.to(at::kFloat), start.at(k).to(at::kFloat));
  EXPECT_TRUE(moved);
}

}  // namespace
}  // namespace fid
