// FiD reader and retriever inputs against the reference's Dataset +
// Collator / RetrieverCollator: fid_inputs.json (transformers 4.x),
// fid_inputs_v302.json (3.0.2) and retriever_inputs.json, field by field.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/files.h"
#include "parity_util.h"
#include "support/test_util.h"
#include "text/fid_encoding.h"

namespace fid::text {
namespace {

using fid::testing::flatten_ints;
using fid::testing::load_fixture;

struct RawContext {
  std::string title, text;
  double score;
};

// Dataset: ctxs sorted by score, highest first (stable), then the first n.
std::vector<RawContext> top_contexts(const nlohmann::json& example, size_t n_context) {
  std::vector<RawContext> ctxs;
  for (const auto& c : example["ctxs"])
    ctxs.push_back({c["title"].get<std::string>(), c["text"].get<std::string>(), c["score"].get<double>()});
  std::stable_sort(ctxs.begin(), ctxs.end(),
                   [](const RawContext& a, const RawContext& b) { return a.score > b.score; });
  if (ctxs.size() > n_context) ctxs.resize(n_context);
  return ctxs;
}

class FidInputsParity : public ::testing::TestWithParam<T5Convention> {};

TEST_P(FidInputsParity, ReaderBatch) {
  bool v302 = GetParam() == T5Convention::kV302;
  nlohmann::json f = load_fixture(v302 ? "fid_inputs_v302.json" : "fid_inputs.json");
  T5Tokenizer tok = T5Tokenizer::load(join_path(fid::testing::fixtures_dir(), "t5_tokenizer"), {GetParam(), 100});
  size_t n_context = f["n_context"].get<size_t>();

  std::vector<FidTextExample> examples;
  for (const auto& raw : f["raw_examples"]) {
    FidTextExample ex;
    ex.question = format_question(raw["question"].get<std::string>());
    ex.target = format_target(raw["target"].get<std::string>());
    for (const RawContext& c : top_contexts(raw, n_context)) ex.passages.push_back(format_passage(c.title, c.text));
    examples.push_back(std::move(ex));
  }
  ASSERT_EQ(examples.size(), f["formatted_questions"].size());
  for (size_t b = 0; b < examples.size(); ++b) {
    EXPECT_EQ(examples[b].question, f["formatted_questions"][b].get<std::string>());
    EXPECT_EQ(examples[b].target, f["formatted_targets"][b].get<std::string>());
    EXPECT_EQ(examples[b].passages, f["formatted_passages"][b].get<std::vector<std::string>>());
    EXPECT_EQ(tok.tokenize(examples[b].target), f["target_tokens"][b].get<std::vector<std::string>>());
    for (size_t p = 0; p < examples[b].passages.size(); ++p) {
      std::string row = examples[b].question + " " + examples[b].passages[p];
      EXPECT_EQ(row, f["encoder_texts"][b][p].get<std::string>());
      EXPECT_EQ(tok.tokenize(row), f["encoder_tokens"][b][p].get<std::vector<std::string>>());
    }
  }

  FidBatchOptions options;
  options.text_maxlength = f["text_maxlength"].get<int64_t>();
  options.answer_maxlength = f["answer_maxlength"].get<int64_t>();
  FidBatch batch = encode_fid_batch(tok, examples, options);
  EXPECT_EQ(batch.batch, static_cast<int64_t>(examples.size()));
  EXPECT_EQ(batch.n_passages, static_cast<int64_t>(n_context));
  EXPECT_EQ(batch.length, options.text_maxlength);
  EXPECT_EQ(batch.target_length, options.answer_maxlength);
  EXPECT_EQ(batch.passage_ids, flatten_ints(f["passage_ids"]));
  EXPECT_EQ(batch.passage_mask, flatten_ints(f["passage_mask"]));
  EXPECT_EQ(batch.target_ids, flatten_ints(f["target_ids"]));
  EXPECT_EQ(batch.target_mask, flatten_ints(f["target_mask"]));
}

INSTANTIATE_TEST_SUITE_P(Conventions, FidInputsParity,
                         ::testing::Values(T5Convention::kV4, T5Convention::kV302),
                         [](const auto& info) { return std::string(t5_convention_name(info.param)); });

TEST(RetrieverInputsParity, RetrieverBatch) {
  nlohmann::json f = load_fixture("retriever_inputs.json");
  BertTokenizer tok = BertTokenizer::load(join_path(fid::testing::fixtures_dir(), "bert"));
  size_t n_context = f["n_context"].get<size_t>();
  std::vector<RetrieverTextExample> examples;
  for (const auto& raw : f["raw_examples"]) {
    RetrieverTextExample ex;
    ex.question = format_question(raw["question"].get<std::string>());
    for (const RawContext& c : top_contexts(raw, n_context)) {
      ex.passages.push_back(format_passage(c.title, c.text));
      ex.scores.push_back(static_cast<float>(c.score));  // torch.tensor of floats: float32
    }
    examples.push_back(std::move(ex));
  }
  for (size_t b = 0; b < examples.size(); ++b) {
    EXPECT_EQ(examples[b].question, f["formatted_questions"][b].get<std::string>());
    EXPECT_EQ(examples[b].passages, f["formatted_passages"][b].get<std::vector<std::string>>());
  }
  RetrieverBatch batch = encode_retriever_batch(tok, examples, f["question_maxlength"].get<int64_t>(),
                                                f["passage_maxlength"].get<int64_t>());
  EXPECT_EQ(batch.question_ids, flatten_ints(f["question_ids"]));
  EXPECT_EQ(batch.question_mask, flatten_ints(f["question_mask"]));
  EXPECT_EQ(batch.passage_ids, flatten_ints(f["passage_ids"]));
  EXPECT_EQ(batch.passage_mask, flatten_ints(f["passage_mask"]));
  std::vector<float> gold;
  for (const auto& row : f["gold_score"])
    for (const auto& s : row) gold.push_back(static_cast<float>(s.get<double>()));
  EXPECT_EQ(batch.gold_score, gold);
}

}  // namespace
}  // namespace fid::text
