// Metrics beyond the fixture vectors: awkward input, and the threaded top-k
// evaluation's counting rules.
#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>
#include <vector>

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

// ASCII passages take a path without a string per token; a non-ASCII
// character anywhere sends the same passage through the general (decode, NFD,
// tokenize) path. Appending " \xC3\xA9" adds one token no answer here has, so
// both paths must agree on every random passage and answer: answers cut from
// the passage, case changed, spacing changed, punctuation, control bytes, and
// answers whose NFD form is ASCII (the Kelvin sign is K).
TEST(HasAnswer, AsciiPassagesMatchAsTheGeneralPath) {
  std::mt19937 rng(5);
  const std::string alphabet = "abcXYZ019 ,.-'!\t\x01\x7f";
  auto pick = [&](size_t n) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  int hits = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    for (size_t i = 0, n = 1 + pick(40); i < n; ++i) text += alphabet[pick(alphabet.size())];
    std::vector<std::string> answers;
    for (int a = 0; a < 2; ++a) {
      const size_t b = pick(text.size()), len = 1 + pick(6);
      std::string ans = text.substr(b, len);
      if (pick(2)) for (char& c : ans) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (pick(4) == 0) ans = "  " + ans + " ";
      answers.push_back(ans);
    }
    if (pick(8) == 0) answers.push_back("\xE2\x84\xAA");  // KELVIN SIGN: NFD gives K
    const bool ascii = AnswerMatcher(answers).found_in(text);
    EXPECT_EQ(ascii, AnswerMatcher(answers).found_in(text + " \xC3\xA9")) << text;
    hits += ascii;
  }
  EXPECT_GT(hits, 1500);  // both outcomes are common
  EXPECT_LT(hits, 2900);
  EXPECT_TRUE(has_answer({"\xE2\x84\xAA"}, "a k b"));
  EXPECT_FALSE(has_answer({"\xC3\xA9"}, "e"));
  EXPECT_TRUE(has_answer({"New-York"}, "NEW - york"));  // '-' is a token of its own
  EXPECT_FALSE(has_answer({"ab"}, "a b"));
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
