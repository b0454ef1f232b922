// The per-passage answer likelihood (Atlas's perplexity distillation score)
// equals what the plain teacher-forced forward gives when the reader is handed
// that one passage: -(mean cross-entropy of the target tokens). Padding in the
// passages and in the labels must not change it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/fid.h"
#include "tiny_t5.h"

using namespace fid::model;

namespace {

TEST(AnswerLikelihood, EqualsTheForwardLossOnEachPassageAlone) {
  auto t5 = std::make_shared<T5Model>(fid::testing::tiny_t5_config());
  init_t5_weights(*t5, 7);
  t5->eval();
  FidReader reader(t5);
  at::manual_seed(3);
  const int64_t b = 2, n = 3, l = 7;
  at::Tensor ids = at::randint(2, 50, {b, n, l}, at::kLong);  // (B, N, L)
  at::Tensor mask = at::ones({b, n, l}, at::kLong);           // (B, N, L)
  mask.index_put_({1, 2, at::indexing::Slice(4, at::indexing::None)}, 0);  // a padded passage
  ids.masked_fill_(mask.eq(0), 0);
  at::Tensor labels = at::randint(2, 50, {b, 4}, at::kLong);  // (B, T)
  labels.index_put_({0, at::indexing::Slice(2, at::indexing::None)}, -100);  // a short target

  at::Tensor got = answer_log_likelihood(reader, reader.encode(ids, mask), mask, labels);  // (B, N)
  ASSERT_EQ(got.sizes(), (at::IntArrayRef{b, n}));
  at::NoGradGuard no_grad;
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t k = 0; k < n; ++k) {
      using at::indexing::Slice;
      at::Tensor one_ids = ids.index({Slice(i, i + 1), Slice(k, k + 1)});    // (1, 1, L)
      at::Tensor one_mask = mask.index({Slice(i, i + 1), Slice(k, k + 1)});  // (1, 1, L)
      const double want =
          -reader.forward(one_ids, one_mask, labels.index({Slice(i, i + 1)})).loss.item<double>();
      EXPECT_NEAR(got[i][k].item<double>(), want, 1e-5 * std::max(1.0, std::abs(want)))
          << "example " << i << " passage " << k;
    }
  }
  // Passages differ, so their scores do: the score reads the passage.
  EXPECT_GT((got[0][0] - got[0][1]).abs().item<double>(), 1e-6);
}

TEST(AnswerLikelihood, RefusesMismatchedShapes) {
  auto t5 = std::make_shared<T5Model>(fid::testing::tiny_t5_config());
  FidReader reader(t5);
  at::Tensor mask = at::ones({2, 3, 5}, at::kLong);
  at::Tensor enc = at::zeros({2, 15, 16});
  EXPECT_THROW(answer_log_likelihood(reader, enc, mask, at::ones({3, 4}, at::kLong)),
               std::exception);
}

}  // namespace
