// Answer metrics against the reference evaluation code: every case of
// eval_em_cases.json (normalize_answer, ems) and eval_has_answer_cases.json
// (SimpleTokenizer tokens of the NFD text and answers, has_answer).
#include <gtest/gtest.h>

#include "parity_util.h"
#include "text/metrics.h"

namespace fid::text {
namespace {

using fid::testing::load_fixture;

TEST(MetricsParity, ExactMatchCases) {
  nlohmann::json cases = load_fixture("eval_em_cases.json");
  ASSERT_GT(cases.size(), 0u);
  for (const auto& c : cases) {
    std::string prediction = c["prediction"].get<std::string>();
    auto answers = c["answers"].get<std::vector<std::string>>();
    SCOPED_TRACE("prediction: " + prediction);
    EXPECT_EQ(normalize_answer(prediction), c["normalized_prediction"].get<std::string>());
    auto normalized = c["normalized_answers"].get<std::vector<std::string>>();
    ASSERT_EQ(normalized.size(), answers.size());
    for (size_t i = 0; i < answers.size(); ++i) EXPECT_EQ(normalize_answer(answers[i]), normalized[i]);
    EXPECT_EQ(ems(prediction, answers), c["em"].get<bool>());
  }
}

// SQuAD v1.1 token F1 as Atlas computes it: answer_match_cases.json's
// f1_cases (normalised tokens, per-answer overlap, precision, recall, F1,
// the best over the answers, and EM beside it).
TEST(MetricsParity, F1Cases) {
  nlohmann::json all = load_fixture("answer_match_cases.json");
  const nlohmann::json& cases = all["f1_cases"];
  ASSERT_GT(cases.size(), 0u);
  for (const auto& c : cases) {
    const std::string prediction = c["prediction"].get<std::string>();
    const auto answers = c["answers"].get<std::vector<std::string>>();
    SCOPED_TRACE("prediction: " + prediction);
    EXPECT_EQ(normalize_answer(prediction), c["normalized_prediction"].get<std::string>());
    ASSERT_EQ(c["per_answer"].size(), answers.size());
    for (size_t i = 0; i < answers.size(); ++i) {
      EXPECT_NEAR(f1(prediction, answers[i]), c["per_answer"][i]["f1"].get<double>(), 1e-12) << answers[i];
    }
    EXPECT_NEAR(f1_score(prediction, answers), c["f1"].get<double>(), 1e-12);
    EXPECT_EQ(ems(prediction, answers), c["em"].get<bool>());
  }
}

TEST(MetricsParity, HasAnswerCases) {
  nlohmann::json cases = load_fixture("eval_has_answer_cases.json");
  ASSERT_GT(cases.size(), 0u);
  for (const auto& c : cases) {
    std::string text = c["text"].get<std::string>();
    auto answers = c["answers"].get<std::vector<std::string>>();
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(simple_tokenize(nfd_normalize(text), true), c["text_tokens"].get<std::vector<std::string>>());
    auto answer_tokens = c["answer_tokens"].get<std::vector<std::vector<std::string>>>();
    ASSERT_EQ(answer_tokens.size(), answers.size());
    for (size_t i = 0; i < answers.size(); ++i)
      EXPECT_EQ(simple_tokenize(nfd_normalize(answers[i]), true), answer_tokens[i]);
    EXPECT_EQ(has_answer(answers, text), c["has_answer"].get<bool>());
  }
}

// The same cases through the multi-threaded top-k evaluation: one question
// per case with its text as the single passage.
TEST(MetricsParity, TopKAgreesWithHasAnswer) {
  nlohmann::json cases = load_fixture("eval_has_answer_cases.json");
  std::vector<RetrievedQuestion> data;
  int64_t expected_hits = 0;
  for (const auto& c : cases) {
    data.push_back({c["answers"].get<std::vector<std::string>>(), {c["text"].get<std::string>()}, {}});
    expected_hits += c["has_answer"].get<bool>() ? 1 : 0;
  }
  TopKAccuracy acc = top_k_accuracy(data, 4);
  ASSERT_EQ(acc.hits.size(), 1u);
  EXPECT_EQ(acc.hits[0], expected_hits);
  for (size_t i = 0; i < data.size(); ++i)
    EXPECT_EQ(acc.question_hits[i][0] != 0, cases[i]["has_answer"].get<bool>()) << "case " << i;
}

}  // namespace
}  // namespace fid::text
