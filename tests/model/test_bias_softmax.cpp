// The fused bias softmax of bfloat16 attention scores against the ATen
// composition it replaces (float32 sum, float32 softmax, cast to bfloat16):
// values within one bfloat16 rounding, masked positions exactly zero, both
// gradients, every bias broadcast attention uses, rows not a multiple of the
// kernel's 16 lanes, and the path without autograd.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "model/t5_kernels.h"

using namespace fid::model;

namespace {

at::Tensor reference(const at::Tensor& scores, const at::Tensor& bias) {
  return at::softmax(scores.to(at::kFloat) + bias, -1).to(at::kBFloat16);
}

// Largest difference in units of the reference's bfloat16 spacing (2^-8
// relative): rounding the same float32 value twice differs by at most one.
double ulps(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor w = want.to(at::kFloat), spacing = at::clamp_min(w.abs() * (1.0 / 256), 1e-30);
  return ((got.to(at::kFloat) - w).abs() / spacing).max().item<double>();
}

}  // namespace

TEST(BiasSoftmax, MatchesTheCompositionForEveryBroadcast) {
  at::manual_seed(21);
  const int64_t b = 3, h = 4;
  for (int64_t lk : {37, 200}) {
    const int64_t lq = lk == 37 ? 5 : 1;
    // Encoder (B, H, L, L), decoder self (1, H, Lq, Lk), cross mask
    // (B, 1, 1, Lk), and a permuted (non-contiguous) table.
    std::vector<std::pair<std::string, at::Tensor>> biases = {
        {"full", at::randn({b, h, lq, lk}) * 3},
        {"table", at::randn({1, h, lq, lk})},
        {"mask", at::where(at::rand({b, 1, 1, lk}) < 0.3, -1e9, 0.0).to(at::kFloat)},
        {"permuted", at::randn({lq, lk, h}).permute({2, 0, 1}).unsqueeze(0)}};
    for (auto& [name, bias] : biases) {
      SCOPED_TRACE(name + " Lk " + std::to_string(lk));
      at::Tensor scores = (at::randn({b, h, lq, lk}) * 4).to(at::kBFloat16);
      ASSERT_TRUE(bias_softmax_fuses(scores, bias));
      at::Tensor got = bias_softmax(scores, bias);
      ASSERT_EQ(got.scalar_type(), at::kBFloat16);
      ASSERT_EQ(got.sizes(), scores.sizes());
      EXPECT_LE(ulps(got, reference(scores, bias)), 1.0);
      EXPECT_LT((got.to(at::kFloat).sum(-1) - 1).abs().max().item<double>(), 0.02);
    }
  }
}

TEST(BiasSoftmax, MaskedPositionsAreExactlyZero) {
  at::manual_seed(22);
  const float lowest = std::numeric_limits<float>::lowest();
  at::Tensor scores = at::randn({2, 3, 4, 50}).to(at::kBFloat16);
  at::Tensor mask = at::zeros({2, 1, 1, 50});
  mask.narrow(3, 30, 20).fill_(lowest);  // padding at the end of each passage
  mask.narrow(3, 5, 3).fill_(-1e9f);     // the 3.0.2 convention's mask value
  at::Tensor got = bias_softmax(scores, mask);
  EXPECT_TRUE(got.narrow(3, 30, 20).eq(0).all().item<bool>());
  EXPECT_TRUE(got.narrow(3, 5, 3).eq(0).all().item<bool>());
  EXPECT_TRUE(got.narrow(3, 0, 5).gt(0).all().item<bool>());
  // A row masked everywhere is uniform, as ATen's softmax makes it.
  at::Tensor all = at::full({1, 1, 1, 50}, lowest);
  at::Tensor uniform = bias_softmax(at::zeros({1, 1, 2, 50}, at::kBFloat16), all);
  EXPECT_TRUE(at::equal(uniform, reference(at::zeros({1, 1, 2, 50}, at::kBFloat16), all)));
  // Scores far apart: the exponent range ends at 0, not at a denormal.
  at::Tensor far = at::tensor({0.0f, -80.0f, -86.9f, -87.5f, -100.0f, -1e30f}).view({1, 1, 1, 6});
  at::Tensor p = bias_softmax(at::zeros({1, 1, 1, 6}, at::kBFloat16), far).to(at::kFloat).flatten();
  EXPECT_EQ(p[0].item<float>(), 1.0f);
  EXPECT_GT(p[1].item<float>(), 0.0f);  // e^-80 ~ 1.8e-35, a normal float and bfloat16
  EXPECT_EQ(p[4].item<float>(), 0.0f);
  EXPECT_EQ(p[5].item<float>(), 0.0f);
}

TEST(BiasSoftmax, GradientsMatchTheComposition) {
  at::manual_seed(23);
  const int64_t b = 2, h = 3, lq = 6, lk = 41;
  for (bool broadcast : {false, true}) {
    SCOPED_TRACE(broadcast ? "table (1, H, Lq, Lk)" : "full (B, H, Lq, Lk)");
    at::Tensor s0 = at::randn({b, h, lq, lk}).to(at::kBFloat16);
    at::Tensor b0 = broadcast ? at::randn({1, h, lq, lk}) : at::randn({b, h, lq, lk});
    at::Tensor g = at::randn({b, h, lq, lk}).to(at::kBFloat16);
    at::Tensor s1 = s0.clone().requires_grad_(true), b1 = b0.clone().requires_grad_(true);
    at::Tensor s2 = s0.clone().requires_grad_(true), b2 = b0.clone().requires_grad_(true);
    bias_softmax(s1, b1).backward(g);
    at::softmax(s2.to(at::kFloat) + b2, -1).to(at::kBFloat16).backward(g);
    ASSERT_EQ(s1.grad().scalar_type(), at::kBFloat16);
    ASSERT_EQ(b1.grad().sizes(), b0.sizes());
    // float32 softmax outputs equal to about 1e-6 relative, so the gradients
    // agree to float32 rounding before the scores' is rounded to bfloat16.
    const double scale = b2.grad().abs().max().item<double>();
    EXPECT_LT((b1.grad() - b2.grad()).abs().max().item<double>(), 1e-5 * scale);
    EXPECT_LE(ulps(s1.grad(), s2.grad()), 1.0);
    EXPECT_GT(scale, 0.0);
  }
}

TEST(BiasSoftmax, WithoutAutogradGivesTheSameValues) {
  at::manual_seed(24);
  at::Tensor scores = at::randn({2, 2, 3, 64}).to(at::kBFloat16), bias = at::randn({1, 2, 3, 64});
  at::Tensor with = bias_softmax(scores.clone().requires_grad_(true), bias);
  at::Tensor without;
  {
    at::InferenceMode guard;
    without = bias_softmax(scores, bias);
  }
  EXPECT_TRUE(with.requires_grad());
  EXPECT_TRUE(at::equal(with.detach(), without));
  // Not fusable: float32 scores, a bias with a broadcast last dimension.
  EXPECT_FALSE(bias_softmax_fuses(scores.to(at::kFloat), bias));
  EXPECT_FALSE(bias_softmax_fuses(scores, at::randn({1, 2, 3, 1})));
  EXPECT_THROW(bias_softmax(scores.to(at::kFloat), bias), std::exception);
}
