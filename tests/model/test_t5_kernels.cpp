// The fused RMS norm, dropout and LM-head kernels against the ATen
// compositions they replace: values, gradients, masks (kept fraction,
// forward = backward, reproducible from the generator, independent between
// calls).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <torch/csrc/autograd/autograd.h>

#include "model/batched_matmul.h"
#include "model/lm_head.h"
#include "model/t5_kernels.h"

using namespace fid::model;

namespace {

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// transformers' T5LayerNorm, in ATen operators.
at::Tensor reference_rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return w * (x * at::rsqrt(x.pow(2).mean(-1, true) + eps));
}

}  // namespace

TEST(T5Kernels, RmsNormMatchesComposition) {
  at::manual_seed(3);
  // d = 37 exercises the tail after the 16-wide accumulators; the transposed
  // input, a non-contiguous one.
  for (int64_t d : {37, 512}) {
    for (bool transposed : {false, true}) {
      SCOPED_TRACE("d " + std::to_string(d) + (transposed ? " transposed" : ""));
      at::Tensor base = transposed ? at::randn({d, 5, 7}).permute({1, 2, 0}) : at::randn({5, 7, d});
      at::Tensor x1 = base.clone().requires_grad_(true), x2 = base.detach().clone().requires_grad_(true);
      at::Tensor w1 = (at::rand({d}) + 0.5).requires_grad_(true), w2 = w1.detach().clone().requires_grad_(true);
      at::Tensor g = at::randn({5, 7, d});
      EXPECT_EQ(x1.is_contiguous(), !transposed);
      at::Tensor y1 = rms_norm(x1, w1, 1e-6);
      at::Tensor y2 = reference_rms(x2, w2, 1e-6);
      EXPECT_LT(max_diff(y1, y2), 1e-5);
      (y1 * g).sum().backward();
      (y2 * g).sum().backward();
      EXPECT_LT(max_diff(x1.grad(), x2.grad()), 1e-5);
      EXPECT_LT(max_diff(w1.grad(), w2.grad()), 1e-4);
      EXPECT_GT(w1.grad().abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(T5Kernels, RmsNormWeightGradientDoesNotDependOnThreads) {
  at::manual_seed(4);
  at::Tensor x = at::randn({300, 64}), g = at::randn({300, 64}), w = at::rand({64});
  auto grad_w = [&](int threads) {
    at::set_num_threads(threads);
    at::Tensor wr = w.clone().requires_grad_(true);
    (rms_norm(x, wr, 1e-6) * g).sum().backward();
    return wr.grad();
  };
  const int before = at::get_num_threads();
  at::Tensor one = grad_w(1), two = grad_w(2);
  at::set_num_threads(before);
  EXPECT_TRUE(at::equal(one, two));
}

TEST(T5Kernels, DropoutKeepsOneMinusPAndScales) {
  at::manual_seed(5);
  const double p = 0.1;
  at::Tensor x = (at::rand({1000, 1000}) + 1.0).requires_grad_(true);
  at::Tensor y = fused_dropout(x, p, true);
  at::Tensor kept = y != 0;
  const double frac = kept.to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(frac, 1 - p, 0.0015);  // 5 standard deviations at n = 1e6
  // Kept elements are x / (1 - p) exactly as ATen computes them.
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  EXPECT_TRUE(at::equal(y.masked_select(kept), (x.detach() * scale).masked_select(kept)));
  // The backward regenerates the same mask.
  y.sum().backward();
  EXPECT_TRUE(at::equal(x.grad() != 0, kept));
  EXPECT_TRUE(at::equal(x.grad().masked_select(kept), at::full({kept.sum().item<int64_t>()}, scale)));
  // Neighbouring rows and columns are not correlated: the fraction of pairs
  // both kept is (1 - p)^2.
  at::Tensor k = kept.to(at::kDouble);
  EXPECT_NEAR((k.narrow(0, 0, 999) * k.narrow(0, 1, 999)).mean().item<double>(), (1 - p) * (1 - p), 0.002);
  EXPECT_NEAR((k.narrow(1, 0, 999) * k.narrow(1, 1, 999)).mean().item<double>(), (1 - p) * (1 - p), 0.002);
}

TEST(T5Kernels, DropoutMasksFollowTheGenerator) {
  at::Tensor x = at::ones({4096});
  at::manual_seed(9);
  at::Tensor a = fused_dropout(x, 0.5, true), b = fused_dropout(x, 0.5, true);
  at::manual_seed(9);
  at::Tensor a2 = fused_dropout(x, 0.5, true);
  EXPECT_TRUE(at::equal(a, a2));  // same generator state, same mask
  EXPECT_FALSE(at::equal(a, b));  // consecutive calls differ
  const double both = ((a != 0) & (b != 0)).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(both, 0.25, 0.03);  // and are independent
  // Identity outside training and at p = 0; a bad p is an error.
  EXPECT_TRUE(fused_dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(fused_dropout(x, 0.0, true).is_same(x));
  EXPECT_THROW(fused_dropout(x, 1.0, true), std::exception);
}

TEST(T5Kernels, DropoutMaskAtLargeIndices) {
  // Indices beyond 2^32 use the upper half of the index: the draws there are
  // not a repeat of those at the start.
  int differ = 0, kept = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    const bool lo = dropout_keeps(77, i, 0.5), hi = dropout_keeps(77, (int64_t{1} << 32) + i, 0.5);
    differ += lo != hi;
    kept += hi;
  }
  EXPECT_GT(differ, 850);
  EXPECT_NEAR(kept, 1000, 120);
}

TEST(T5Kernels, DropoutAddAndReluDropoutGradients) {
  at::manual_seed(6);
  const double p = 0.3;
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  at::Tensor r = at::randn({64, 100}).requires_grad_(true), y = at::randn({64, 100}).requires_grad_(true);
  at::Tensor g = at::randn({64, 100});
  at::Tensor out = dropout_add(r, y, p, true);
  (out * g).sum().backward();
  EXPECT_TRUE(at::equal(r.grad(), g));
  at::Tensor kept = y.grad() != 0;  // the mask, seen from the gradient
  EXPECT_NEAR(kept.to(at::kDouble).mean().item<double>(), 1 - p, 0.03);
  EXPECT_LT(max_diff(out, r.detach() + y.detach() * kept.to(at::kFloat) * scale), 1e-6);
  EXPECT_LT(max_diff(y.grad(), g * kept.to(at::kFloat) * scale), 1e-6);

  at::Tensor h = at::randn({64, 100}).requires_grad_(true);
  at::Tensor hr = relu_dropout(h, p, true);
  (hr * g).sum().backward();
  at::Tensor pass = hr != 0;
  EXPECT_FALSE(pass.logical_and(h.detach() <= 0).any().item<bool>());
  EXPECT_LT(max_diff(hr, at::relu(h.detach()) * pass.to(at::kFloat) * scale), 1e-6);
  EXPECT_LT(max_diff(h.grad(), g * pass.to(at::kFloat) * scale), 1e-6);
  const double frac = pass.to(at::kDouble).sum().item<double>() / (h.detach() > 0).sum().item<double>();
  EXPECT_NEAR(frac, 1 - p, 0.04);
  // Outside training: exactly ReLU and the plain sum.
  EXPECT_TRUE(at::equal(relu_dropout(h.detach(), p, false), at::relu(h.detach())));
  EXPECT_TRUE(at::equal(dropout_add(r.detach(), y.detach(), p, false), r.detach() + y.detach()));
}

// bfloat16 (autocast's products) takes the same masks as float32: the same
// generator state drops the same elements, and the values are the float32
// products rounded as c10::BFloat16 rounds.
TEST(T5Kernels, Bfloat16DropoutUsesTheFloatMasks) {
  const double p = 0.25;
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  at::manual_seed(11);
  at::Tensor xf = at::randn({300, 257});
  at::Tensor xb = xf.to(at::kBFloat16).requires_grad_(true);
  at::manual_seed(12);
  at::Tensor yf = fused_dropout(xb.detach().to(at::kFloat), p, true);
  at::manual_seed(12);
  at::Tensor yb = fused_dropout(xb, p, true);
  ASSERT_EQ(yb.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(yb.to(at::kFloat) != 0, yf != 0));
  EXPECT_TRUE(at::equal(yb, yf.to(at::kBFloat16)));
  at::Tensor g = at::randn({300, 257}).to(at::kBFloat16);
  (yb.to(at::kFloat) * g.to(at::kFloat)).sum().backward();
  ASSERT_EQ(xb.grad().scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(xb.grad(), (g.to(at::kFloat) * (yf != 0).to(at::kFloat) * scale).to(at::kBFloat16)));

  // relu(h) dropped, bfloat16 in and out; its gradient from the output alone.
  at::Tensor hb = at::randn({64, 100}).to(at::kBFloat16).requires_grad_(true);
  at::manual_seed(13);
  at::Tensor rf = relu_dropout(hb.detach().to(at::kFloat), p, true);
  at::manual_seed(13);
  at::Tensor rb = relu_dropout(hb, p, true);
  ASSERT_EQ(rb.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(rb, rf.to(at::kBFloat16)));
  at::Tensor gh = at::randn({64, 100}).to(at::kBFloat16);
  rb.backward(gh);
  EXPECT_TRUE(at::equal(hb.grad(), (gh.to(at::kFloat) * (rf > 0).to(at::kFloat) * scale).to(at::kBFloat16)));
}

// A float32 residual plus a dropped bfloat16 branch: the sum in float32 (as
// ATen promotes), the branch's gradient back in bfloat16.
TEST(T5Kernels, DropoutAddOfABfloat16Branch) {
  const double p = 0.3;
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  at::manual_seed(14);
  at::Tensor r = at::randn({48, 130}).requires_grad_(true);
  at::Tensor y = at::randn({48, 130}).to(at::kBFloat16).requires_grad_(true);
  at::Tensor g = at::randn({48, 130});
  at::manual_seed(15);
  at::Tensor out = dropout_add(r, y, p, true);
  ASSERT_EQ(out.scalar_type(), at::kFloat);
  at::manual_seed(15);
  at::Tensor kept = fused_dropout(at::ones({48, 130}), p, true) != 0;  // the same draw, float32
  EXPECT_TRUE(at::equal(out, r.detach() + y.detach().to(at::kFloat) * kept.to(at::kFloat) * scale));
  (out * g).sum().backward();
  EXPECT_TRUE(at::equal(r.grad(), g));
  ASSERT_EQ(y.grad().scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(y.grad(), (g * kept.to(at::kFloat) * scale).to(at::kBFloat16)));
}

// The kernels' float32 -> bfloat16 rounding is c10's, bit for bit: ties to
// even, infinities, NaN, the largest finite values (which round to infinity)
// and subnormals. At p = 2^-31 the scale is exactly 1.0f and (for this seed
// and size) every element is kept, so the gradient is g rounded.
TEST(T5Kernels, Bfloat16RoundingIsC10s) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {0.0f, -0.0f, 1.0f, inf, -inf, nan, -nan, std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                          1e-40f, -3.3e38f};
  for (uint32_t u : {0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x3f817fffu, 0x7f7f8000u, 0x00018000u}) {
    float f;
    std::memcpy(&f, &u, 4);
    v.push_back(f);
    v.push_back(-f);
  }
  at::Tensor ties = at::tensor(v);
  at::Tensor g = at::cat({ties, at::randn({4000}) * 1e3});
  const double p = std::ldexp(1.0, -31);
  at::Tensor r = at::zeros_like(g).requires_grad_(true);
  at::Tensor y = at::zeros_like(g).to(at::kBFloat16).requires_grad_(true);
  dropout_add(r, y, p, true).backward(g);
  const at::Tensor want = g.to(at::kBFloat16);
  // Compared as bits: NaN != NaN as values.
  // NaN stays NaN (the payload differs between ATen's own scalar and vector
  // conversions: 0x7fc0 and 0xffff); everything else equal as bits.
  const at::Tensor got = y.grad(), is_nan = at::isnan(want);
  EXPECT_EQ(is_nan.sum().item<int64_t>(), 2);
  EXPECT_TRUE(at::equal(at::isnan(got), is_nan));
  EXPECT_TRUE(at::equal(got.view(at::kShort).masked_select(~is_nan), want.view(at::kShort).masked_select(~is_nan)));
  EXPECT_TRUE(at::isinf(got).any().item<bool>());  // max float rounds up to infinity
}

TEST(T5Kernels, BatchedMatmulMatchesBmmForEveryLayout) {
  const int before = at::get_num_threads();
  // The parallel path needs two intra-op threads; without OpenBLAS the same
  // checks hold for the at::bmm fallback.
  at::set_num_threads(2);
  at::manual_seed(8);
  // Row-major, transposed (column-major) and sliced operands, as attention
  // passes them (k^T, cache prefixes) and as backward passes them.
  at::Tensor a0 = at::randn({6, 9, 5}), b0 = at::randn({6, 5, 7});
  at::Tensor aT = at::randn({6, 5, 9}).transpose(1, 2), bT = at::randn({6, 7, 5}).transpose(1, 2);
  at::Tensor a_slice = at::randn({6, 12, 5}).narrow(1, 2, 9);
  at::Tensor odd = at::randn({6, 9, 10}).slice(2, 0, 10, 2);  // no unit stride: copied
  // Single rows (decoding steps) take the matrix-vector path.
  at::Tensor row = at::randn({6, 1, 5}), row_strided = at::randn({6, 5, 3}).select(2, 1).unsqueeze(1);
  at::Tensor row_expanded = at::randn({6, 1, 1}).expand({6, 1, 5});
  for (const auto& a : {a0, aT, a_slice, odd, row, row_strided, row_expanded}) {
    for (const auto& b : {b0, bT}) {
      // x and y keep the strides of a and b; x2 and y2 are the reference.
      at::Tensor x = a.detach().requires_grad_(true), y = b.detach().requires_grad_(true);
      at::Tensor x2 = a.detach().clone().requires_grad_(true), y2 = b.detach().clone().requires_grad_(true);
      at::Tensor c = batched_matmul(x, y), want = at::bmm(x2, y2);
      EXPECT_LT(max_diff(c, want), 1e-5);
      at::Tensor g = at::randn(want.sizes());
      (c * g).sum().backward();
      (want * g).sum().backward();
      EXPECT_LT(max_diff(x.grad(), x2.grad()), 1e-5);
      EXPECT_LT(max_diff(y.grad(), y2.grad()), 1e-5);
    }
  }
  at::set_num_threads(before);
}

TEST(T5Kernels, LmHeadProductMatchesLinearWithGradients) {
  at::manual_seed(5);
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    // (B, T, d) against a vocabulary that does not divide into the kernel's
    // row blocks; the second case is one target row.
    for (int64_t t : {7, 1}) {
      at::Tensor x = at::randn({2, t, 48}).requires_grad_(true);
      at::Tensor w = at::randn({1001, 48}).requires_grad_(true);
      at::Tensor g = at::randn({2, t, 1001});
      at::Tensor y = lm_head_product(x, w);
      auto ours = torch::autograd::grad({y}, {x, w}, {g});
      at::Tensor y_ref = at::linear(x, w);
      auto ref = torch::autograd::grad({y_ref}, {x, w}, {g});
      EXPECT_EQ(y.sizes(), y_ref.sizes());
      EXPECT_LT(max_diff(y, y_ref), 1e-5);
      EXPECT_LT(max_diff(ours[0], ref[0]), 1e-4);
      EXPECT_LT(max_diff(ours[1], ref[1]), 1e-4);
      EXPECT_GT(ref[1].abs().max().item<double>(), 1.0);  // the gradients are not trivially small
      EXPECT_TRUE(ours[1].is_contiguous());
    }
  }
  at::set_num_threads(2);
}
