// WordPiece tokenizer against the reference's slow BertTokenizer: every case
// of bert/tokenizer_cases.json (basic tokens, word pieces, ids, decoding), the
// padded/truncated batch and the sentence-pair batch.
#include <gtest/gtest.h>

#include "common/files.h"
#include "parity_util.h"
#include "support/test_util.h"
#include "text/bert_tokenizer.h"

namespace fid::text {
namespace {

using fid::testing::flatten_ints;
using fid::testing::load_fixture;

BertTokenizer fixture_tokenizer(const nlohmann::json& cases) {
  BertTokenizerOptions options;
  options.do_lower_case = cases["do_lower_case"].get<bool>();
  options.max_input_chars_per_word = cases["max_input_chars_per_word"].get<int>();
  return BertTokenizer::load(join_path(fid::testing::fixtures_dir(), "bert"), options);
}

TEST(BertParity, EveryCase) {
  nlohmann::json cases = load_fixture("bert/tokenizer_cases.json");
  BertTokenizer tok = fixture_tokenizer(cases);
  ASSERT_GT(cases["cases"].size(), 0u);
  for (const auto& c : cases["cases"]) {
    std::string text = c["text"].get<std::string>();
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(tok.basic_tokenize(text), c["basic_tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tok.tokenize(text), c["tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tok.encode(text).ids, c["input_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(tok.decode(c["input_ids"].get<std::vector<int64_t>>()), c["decoded"].get<std::string>());
  }
}

TEST(BertParity, PaddedTruncatedBatch) {
  nlohmann::json cases = load_fixture("bert/tokenizer_cases.json");
  BertTokenizer tok = fixture_tokenizer(cases);
  const auto& b = cases["batch_padded_truncated"];
  int64_t max_length = b["max_length"].get<int64_t>();
  auto texts = b["texts"].get<std::vector<std::string>>();
  TokenBatch batch = tok.encode_batch(texts, {max_length, true});
  ASSERT_EQ(batch.rows, static_cast<int64_t>(texts.size()));
  EXPECT_EQ(batch.length, max_length);
  EXPECT_EQ(batch.ids, flatten_ints(b["input_ids"]));
  if (b.contains("token_type_ids")) {
    EXPECT_EQ(batch.type_ids, flatten_ints(b["token_type_ids"]));
  }
  EXPECT_EQ(batch.mask, flatten_ints(b["attention_mask"]));
}

TEST(BertParity, PairBatchLongestFirst) {
  nlohmann::json cases = load_fixture("bert/tokenizer_cases.json");
  BertTokenizer tok = fixture_tokenizer(cases);
  const auto& b = cases["pair_batch"];
  ASSERT_EQ(b["truncation"].get<std::string>(), "longest_first");
  TokenBatch batch = tok.encode_pair_batch(b["texts_a"].get<std::vector<std::string>>(),
                                           b["texts_b"].get<std::vector<std::string>>(),
                                           {b["max_length"].get<int64_t>(), true});
  EXPECT_EQ(batch.ids, flatten_ints(b["input_ids"]));
  EXPECT_EQ(batch.type_ids, flatten_ints(b["token_type_ids"]));
  EXPECT_EQ(batch.mask, flatten_ints(b["attention_mask"]));
}

}  // namespace
}  // namespace fid::text
