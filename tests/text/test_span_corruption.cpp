// Span corruption (T5's objective): the input and target together hold every
// token once, in order; sentinels pair up; the noise fraction and span count
// follow the options; a seed gives the same corruption every time.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "common/error.h"
#include "text/span_corruption.h"

namespace fid::text {
namespace {

std::vector<int32_t> sentinels(int n) {
  std::vector<int32_t> s;
  for (int k = 0; k < n; ++k) s.push_back(1099 - k);
  return s;
}

// Rebuilds the text: each sentinel of the input replaced by its span.
std::vector<int32_t> rebuild(const CorruptedText& c) {
  std::vector<int32_t> out;
  for (int32_t t : c.input) {
    if (t < 1000) {
      out.push_back(t);
      continue;
    }
    auto it = std::find(c.target.begin(), c.target.end(), t);
    EXPECT_NE(it, c.target.end()) << "sentinel " << t << " has no span in the target";
    for (++it; it != c.target.end() && *it < 1000; ++it) out.push_back(*it);
  }
  return out;
}

TEST(SpanCorruption, HidesSpansThatRebuildTheText) {
  std::vector<int32_t> tokens(80);
  std::iota(tokens.begin(), tokens.end(), 1);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    CorruptedText c = corrupt_spans(tokens, sentinels(100), {0.15, 3.0}, seed);
    EXPECT_EQ(rebuild(c), tokens) << "seed " << seed;
    int hidden = 0, spans = 0;
    for (int32_t t : c.target) (t >= 1000 ? spans : hidden) += 1;
    EXPECT_EQ(hidden, 12);  // round(80 * 0.15)
    EXPECT_EQ(spans, 4);    // round(12 / 3)
    EXPECT_EQ(static_cast<int>(c.input.size()), 80 - hidden + spans);
    // Sentinels in order <extra_id_0>, <extra_id_1>, ... in both.
    EXPECT_EQ(c.target.front(), 1099);
  }
}

TEST(SpanCorruption, SeedDecidesTheSpans) {
  std::vector<int32_t> tokens(60);
  std::iota(tokens.begin(), tokens.end(), 1);
  auto a = corrupt_spans(tokens, sentinels(100), {}, 7), b = corrupt_spans(tokens, sentinels(100), {}, 7);
  EXPECT_EQ(a.input, b.input);
  EXPECT_EQ(a.target, b.target);
  int differ = 0;
  for (uint64_t s = 8; s < 18; ++s) differ += corrupt_spans(tokens, sentinels(100), {}, s).input != a.input;
  EXPECT_GE(differ, 9);
}

TEST(SpanCorruption, ShortTextsAndTooFewSentinels) {
  auto one = corrupt_spans({5}, sentinels(1), {}, 0);
  EXPECT_EQ(one.input, std::vector<int32_t>{5});
  EXPECT_TRUE(one.target.empty());
  auto two = corrupt_spans({5, 6}, sentinels(1), {}, 0);
  EXPECT_EQ(two.input, (std::vector<int32_t>{5, 1099}));
  EXPECT_EQ(two.target, (std::vector<int32_t>{1099, 6}));
  std::vector<int32_t> tokens(200, 3);
  EXPECT_THROW(corrupt_spans(tokens, sentinels(2), {0.5, 1.0}, 0), Error);
  EXPECT_THROW(corrupt_spans(tokens, sentinels(100), {1.5, 3.0}, 0), Error);
}

}  // namespace
}  // namespace fid::text
