// T5 tokenizer against the reference's T5Tokenizer, both conventions: every
// case of t5_tokenizer/tokenizer_cases*.json (tokens, ids, both decodings)
// and the padded/truncated batch.
#include <gtest/gtest.h>

#include "common/files.h"
#include "parity_util.h"
#include "support/test_util.h"
#include "text/t5_tokenizer.h"

namespace fid::text {
namespace {

using fid::testing::load_fixture;

struct Convention {
  const char* file;
  T5Convention convention;
};

class T5Parity : public ::testing::TestWithParam<Convention> {
 protected:
  T5Tokenizer tokenizer() const {
    return T5Tokenizer::load(join_path(fid::testing::fixtures_dir(), "t5_tokenizer"),
                             {GetParam().convention, 100});
  }
};

TEST_P(T5Parity, VocabularyLayout) {
  T5Tokenizer tok = tokenizer();
  nlohmann::json cases = load_fixture(GetParam().file);
  EXPECT_EQ(tok.model().piece_size(), cases["spm_piece_size"].get<int>());
  EXPECT_EQ(tok.vocab_size(), cases["tokenizer_vocab_size"].get<int>());
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.unk_id(), 2);
  EXPECT_EQ(tok.token_to_id("<extra_id_0>"), tok.vocab_size() - 1);
  EXPECT_EQ(tok.id_to_token(tok.vocab_size() - 1), "<extra_id_0>");
}

TEST_P(T5Parity, EveryCase) {
  T5Tokenizer tok = tokenizer();
  nlohmann::json cases = load_fixture(GetParam().file);
  ASSERT_GT(cases["cases"].size(), 0u);
  size_t checked = 0;
  for (const auto& c : cases["cases"]) {
    std::string text = c["text"].get<std::string>();
    SCOPED_TRACE("text: " + text);
    EXPECT_EQ(tok.tokenize(text), c["tokens"].get<std::vector<std::string>>());
    std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(ids, c["input_ids"].get<std::vector<int32_t>>());
    std::vector<int64_t> ref_ids = c["input_ids"].get<std::vector<int64_t>>();
    EXPECT_EQ(tok.decode(ref_ids, false), c["decoded"].get<std::string>());
    EXPECT_EQ(tok.decode(ref_ids, true), c["decoded_skip_special"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, cases["cases"].size());
}

TEST_P(T5Parity, PaddedTruncatedBatch) {
  nlohmann::json cases = load_fixture(GetParam().file);
  if (!cases.contains("batch_padded_truncated")) {
    // Only the 3.0.2 file records a batch; the 4.x batch behaviour is
    // covered by fid_inputs.json (test_fid_inputs_parity).
    EXPECT_EQ(GetParam().convention, T5Convention::kV4);
    return;
  }
  T5Tokenizer tok = tokenizer();
  const auto& b = cases["batch_padded_truncated"];
  int64_t max_length = b["max_length"].get<int64_t>();
  TokenBatch batch = tok.encode_batch(b["texts"].get<std::vector<std::string>>(), {max_length, true});
  EXPECT_EQ(batch.length, max_length);
  EXPECT_EQ(batch.ids, fid::testing::flatten_ints(b["input_ids"]));
  EXPECT_EQ(batch.mask, fid::testing::flatten_ints(b["attention_mask"]));
}

INSTANTIATE_TEST_SUITE_P(Conventions, T5Parity,
                         ::testing::Values(Convention{"t5_tokenizer/tokenizer_cases.json", T5Convention::kV4},
                                           Convention{"t5_tokenizer/tokenizer_cases_v302.json",
                                                      T5Convention::kV302}),
                         [](const auto& info) {
                           return std::string(t5_convention_name(info.param.convention));
                         });

}  // namespace
}  // namespace fid::text
