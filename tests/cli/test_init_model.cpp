// `fid init-model --arch t5`: the directory it writes loads, has the sizes the
// flags and config file asked for, the tokenizer's vocabulary and file, and
// trains (a loss that falls over a few steps).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/adamw.h>

#include "common/files.h"
#include "model/fid.h"
#include "model/t5_io.h"
#include "support/test_util.h"

using namespace fid::model;
using fid::testing::TempDir;
using fid::testing::fixtures_dir;
using fid::testing::run_command;

namespace {
std::string spiece() { return fixtures_dir() + "/t5_tokenizer/spiece.model"; }
}  // namespace

TEST(InitModel, FlagsGiveALoadableModelWithTheTokenizer) {
  TempDir dir;
  const std::string out = dir.file("model");
  std::string log;
  const int rc = run_command(fid::testing::fid_binary() + " init-model --arch t5 --d_model 32 --num_layers 2 " +
                                 "--num_heads 4 --d_ff 48 --feed_forward_proj gated-gelu --seed 3 --tokenizer " +
                                 spiece() + " --output_dir " + out,
                             &log);
  ASSERT_EQ(rc, 0) << log;
  auto m = load_t5(out);
  const T5Config& c = m->config();
  EXPECT_EQ(c.d_model, 32);
  EXPECT_EQ(c.d_kv, 8);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_decoder_layers, 2);
  EXPECT_EQ(c.d_ff, 48);
  EXPECT_EQ(c.vocab_size, 600);  // 500 pieces + 100 sentinels
  EXPECT_EQ(c.feed_forward_proj, "gated-gelu");
  EXPECT_EQ(fid::read_file(out + "/spiece.model"), fid::read_file(spiece()));
  EXPECT_NEAR(m->shared->weight.std().item<double>(), 1.0, 0.05);

  // A few AdamW steps on one batch lower the loss: the model is ready to train.
  m->train();
  FidReader reader(m);
  at::manual_seed(0);
  at::Tensor ids = at::randint(3, 600, {2, 2, 10}, at::kLong), mask = at::ones({2, 2, 10}, at::kLong);
  at::Tensor labels = at::randint(3, 600, {2, 4}, at::kLong);
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 8; ++step) {
    opt.zero_grad();
    at::Tensor loss = reader.forward(ids, mask, labels).loss;
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, first - 1.0);

  // Same seed, same weights; an existing model is not overwritten silently.
  const std::string again = dir.file("again");
  ASSERT_EQ(run_command(fid::testing::fid_binary() + " init-model --arch t5 --d_model 32 --num_layers 2 --num_heads 4 "
                            "--d_ff 48 --feed_forward_proj gated-gelu --seed 3 --tokenizer " + spiece() +
                            " --output_dir " + again),
            0);
  EXPECT_TRUE(at::equal(load_t5(again)->shared->weight, load_t5(out)->shared->weight));
  EXPECT_NE(run_command(fid::testing::fid_binary() + " init-model --arch t5 --tokenizer " + spiece() +
                            " --output_dir " + again, &log),
            0);
  EXPECT_NE(log.find("--overwrite"), std::string::npos) << log;
}

TEST(InitModel, ConfigFileWithFlagOverrides) {
  TempDir dir;
  const std::string out = dir.file("model");
  std::string log;
  const int rc = run_command(fid::testing::fid_binary() + " init-model --arch t5 --config " + fixtures_dir() +
                                 "/t5_v1_0/config.json --d_ff 96 --tokenizer " + fixtures_dir() +
                                 "/t5_tokenizer --output_dir " + out,
                             &log);
  ASSERT_EQ(rc, 0) << log;
  auto m = load_t5(out);
  EXPECT_EQ(m->config().d_model, 64);  // from the file
  EXPECT_EQ(m->config().d_ff, 96);     // from the flag
  EXPECT_TRUE(m->config().tie_word_embeddings);
}

TEST(InitModel, BadFlagsAreNamed) {
  TempDir dir;
  std::string log;
  EXPECT_NE(run_command(fid::testing::fid_binary() + " init-model --arch t5 --d_model 30 --num_heads 4 --tokenizer " +
                            spiece() + " --output_dir " + dir.file("m"),
                        &log),
            0);
  EXPECT_NE(log.find("--num_heads"), std::string::npos) << log;
  EXPECT_NE(run_command(fid::testing::fid_binary() + " init-model --arch t5 --vocab_size 100 --tokenizer " +
                            spiece() + " --output_dir " + dir.file("m"),
                        &log),
            0);
  EXPECT_NE(log.find("--vocab_size"), std::string::npos) << log;
  EXPECT_NE(run_command(fid::testing::fid_binary() + " init-model --arch t5 --feed_forward_proj tanh --tokenizer " +
                            spiece() + " --output_dir " + dir.file("m"),
                        &log),
            0);
  EXPECT_NE(log.find("feed_forward_proj"), std::string::npos) << log;
}
