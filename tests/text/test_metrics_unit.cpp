// Metrics beyond the fixture vectors: awkward input, and the threaded top-k
// evaluation's counting rules.
#include <gtest/gtest.h>

#include "common/error.h"
#include "text/metrics.h"

namespace fid::text {
namespace {

TEST(NormalizeAnswer, ArticlesNeedWordBoundaries) {
  EXPECT_EQ(normalize_answer("The cat, a dog and an owl"), "cat dog and owl");
  EXPECT_EQ(normalize_answer("theater anatomy"), "theater anatomy");
  EXPECT_EQ(normalize_answer("a\xCC\x81 b"), "a\xCC\x81 b");  // a combining mark is a word character
  EXPECT_EQ(normalize_answer("a\xC2\xB2"), "\xC2\xB2");        // a superscript digit is not
  EXPECT_EQ(normalize_answer("caf\xC3\xA9 a"), "caf\xC3\xA9");
  EXPECT_EQ(normalize_answer("\xC3\xA9" "a"), "\xC3\xA9" "a");  // é is a word character: no boundary
  EXPECT_EQ(normalize_answer("\xE2\x80\x9C" "a" "\xE2\x80\x9D"), "\xE2\x80\x9C \xE2\x80\x9D");
}

TEST(NormalizeAnswer, AwkwardInput) {
  EXPECT_EQ(normalize_answer(""), "");
  EXPECT_EQ(normalize_answer("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // replacement characters
  EXPECT_EQ(normalize_answer(std::string(100000, 'x') + " the"), std::string(100000, 'x'));
  EXPECT_THROW(ems("x", {}), fid::Error);
}

TEST(SimpleTokenizer, TokenClasses) {
  EXPECT_EQ(simple_tokenize("Hello, wor\xCC\x81ld! 42\xC2\xB2", false),
            (std::vector<std::string>{"Hello", ",", "wor\xCC\x81ld", "!", "42\xC2\xB2"}));
  EXPECT_EQ(simple_tokenize("a\xE2\x80\x8B" "b\x01" "c", true), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(simple_tokenize(" \t\n", true).empty());
}

TEST(HasAnswer, EmptyAnswerAndNoAnswers) {
  EXPECT_TRUE(has_answer({""}, ""));
  EXPECT_FALSE(has_answer({}, "anything"));
  EXPECT_TRUE(has_answer({"New  York"}, "in new york city"));
}

TEST(TopK, CountsFromTheFirstHitUpToTheFirstQuestionsDepth) {
  std::vector<RetrievedQuestion> data = {
      {{"paris"}, {"lyon", "paris is big", "paris"}, {}},
      {{"rome"}, {"rome", "x", "y"}, {}},
      {{"oslo"}, {"a", "b", "c"}, {}},
      {{"bern"}, {"a", "bern"}, {}},                       // fewer passages
      {{"kyiv"}, {"a", "b", "c", "kyiv"}, {}},             // hit beyond the first question's depth
      {{"lima"}, {"lima", "lima", "lima"}, {1, 0, 0}},     // unknown first passage never hits
  };
  for (int threads : {1, 3, 0}) {
    TopKAccuracy acc = top_k_accuracy(data, threads);
    EXPECT_EQ(acc.questions, 6);
    EXPECT_EQ(acc.hits, (std::vector<int64_t>{1, 4, 4}));
    EXPECT_EQ(acc.question_hits[5], (std::vector<uint8_t>{0, 1, 1}));
    EXPECT_DOUBLE_EQ(acc.accuracy(2), 4.0 / 6.0);
    EXPECT_DOUBLE_EQ(acc.accuracy(20), 4.0 / 6.0);
  }
  EXPECT_TRUE(top_k_accuracy({}, 2).hits.empty());
}

}  // namespace
}  // namespace fid::text
