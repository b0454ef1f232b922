#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/files.h"
#include "support/test_util.h"
#include "train/checkpoint.h"
#include "train/optim.h"

namespace fid::train {
namespace {

struct Fixture {
  torch::nn::Linear layer{torch::nn::LinearOptions(4, 3)};
  std::unique_ptr<torch::optim::Optimizer> opt;
  Fixture() {
    OptimOptions o;
    o.optim = "adamw";
    o.lr = 0.01;
    opt = make_optimizer(o, layer->parameters());
  }
  void step() {
    opt->zero_grad();
    layer(torch::ones({2, 4})).pow(2).sum().backward();
    opt->step();
  }
};

ModelWriter write_weights(torch::nn::Linear& layer) {
  return [&layer](const std::string& dir) {
    torch::save(layer->weight.detach().clone(), join_path(dir, "weights.pt"));
  };
}

TEST(Checkpoint, RoundTripRestoresOptimizerStateRngAndLatest) {
  testing::TempDir dir;
  torch::manual_seed(3);
  Fixture a;
  a.step();
  CheckpointManager mgr(dir.path(), "run");
  EXPECT_EQ(mgr.latest(), "");
  at::Tensor rng = cpu_rng_state();
  mgr.save("step-1", write_weights(a.layer), a.opt.get(), {{"step", 1}, {"best", 0.5}},
           {{"rng_rank0", rng}}, true);
  at::Tensor expected = torch::rand({5});
  EXPECT_EQ(mgr.latest(), mgr.checkpoint_path("step-1"));

  torch::manual_seed(99);
  Fixture b;
  LoadedCheckpoint ck = open_checkpoint(mgr.latest(), b.opt.get());
  EXPECT_EQ(ck.state["step"].get<int>(), 1);
  EXPECT_DOUBLE_EQ(ck.state["best"].get<double>(), 0.5);
  set_cpu_rng_state(ck.tensors.at("rng_rank0"));
  EXPECT_TRUE(torch::equal(torch::rand({5}), expected));

  // Same weights + restored Adam moments => identical next step.
  {
    torch::NoGradGuard g;
    b.layer->weight.copy_(a.layer->weight);
    b.layer->bias.copy_(a.layer->bias);
  }
  a.step();
  b.step();
  EXPECT_TRUE(torch::allclose(a.layer->weight, b.layer->weight, 0, 1e-7));
}

TEST(Checkpoint, OverwritingTagKeepsOneCompleteDirectory) {
  testing::TempDir dir;
  Fixture a;
  CheckpointManager mgr(dir.path(), "run");
  mgr.save("best_dev", write_weights(a.layer), a.opt.get(), {{"step", 1}}, {}, false);
  mgr.save("best_dev", write_weights(a.layer), a.opt.get(), {{"step", 2}}, {}, false);
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(join_path(mgr.run_dir(), "checkpoint"))) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(open_checkpoint(mgr.checkpoint_path("best_dev"), nullptr).state["step"], 2);
  EXPECT_EQ(mgr.latest(), "");
}

std::string expect_refused(const std::string& ckpt) {
  try {
    open_checkpoint(ckpt, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "corrupted checkpoint was accepted";
  return "";
}

TEST(Checkpoint, TruncatedOrCorruptedFileIsRefusedByName) {
  testing::TempDir dir;
  Fixture a;
  CheckpointManager mgr(dir.path(), "run");
  std::string ck = mgr.save("step-1", write_weights(a.layer), a.opt.get(), {}, {}, true);
  std::string weights = join_path(ck, "weights.pt");
  std::string original = read_file(weights);

  std::filesystem::resize_file(weights, original.size() / 2);
  std::string msg = expect_refused(ck);
  EXPECT_NE(msg.find("weights.pt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  std::string flipped = original;
  flipped[flipped.size() / 2] ^= 0x5a;
  testing::write_text(weights, flipped);
  msg = expect_refused(ck);
  EXPECT_NE(msg.find("weights.pt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("corrupted"), std::string::npos) << msg;

  testing::write_text(weights, original);
  std::filesystem::remove(join_path(ck, "trainer_state.json"));
  msg = expect_refused(ck);
  EXPECT_NE(msg.find("trainer_state.json"), std::string::npos) << msg;
}

}  // namespace
}  // namespace fid::train
