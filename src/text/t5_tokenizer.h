// T5's tokenizer: a sentencepiece model plus sentinel tokens <extra_id_N>
// placed after its pieces (<extra_id_0> is the last id), with pad/eos/unk taken
// from the model's pieces <pad>, </s>, <unk>. Literal special tokens in text
// (</s>, <pad>, <unk>, <extra_id_N>) are kept whole.
//
// Two conventions, matching the transformers versions the reference ran:
// - kV302 (transformers 3.0.2, the default: released FiD readers were trained
//   with it): no </s> appended; truncation keeps the first max_length ids;
//   decode hands every piece to sentencepiece.
// - kV4 (transformers 4.x): </s> appended unless the text already ends with
//   it; truncation keeps max_length-1 ids then </s>; decode spells special
//   tokens literally.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/hf_text.h"
#include "text/sentencepiece.h"
#include "text/token_batch.h"

namespace fid::text {

enum class T5Convention { kV302, kV4 };

// "v302" / "3.0.2" / "3" and "v4" / "4" / "4.x" (case-insensitive).
T5Convention parse_t5_convention(std::string_view name);
const char* t5_convention_name(T5Convention convention);  // "v302" or "v4"

struct T5TokenizerOptions {
  T5Convention convention = T5Convention::kV302;
  int extra_ids = 100;
};

class T5Tokenizer {
 public:
  // `path` is a spiece.model file or a directory holding one.
  static T5Tokenizer load(const std::string& path, T5TokenizerOptions options = {});
  T5Tokenizer(SentencePieceModel model, T5TokenizerOptions options);

  T5Convention convention() const { return options_.convention; }
  int vocab_size() const { return vocab_size_; }
  int pad_id() const { return pad_id_; }
  int eos_id() const { return eos_id_; }
  int unk_id() const { return unk_id_; }
  const SentencePieceModel& model() const { return model_; }

  // tokenize(): pieces, special tokens kept whole.
  std::vector<std::string> tokenize(std::string_view text) const;
  // The ids of tokenize(text), no special tokens added (appended to out).
  void text_to_ids(std::string_view text, std::vector<int32_t>& out) const;
  // tok(text)['input_ids'] of the convention, truncated as batch encoding
  // with this max_length does (<= 0: no truncation).
  std::vector<int32_t> encode(std::string_view text, int64_t max_length = 0) const;
  TokenBatch encode_batch(const std::vector<std::string>& texts, const BatchOptions& options) const;

  // decode(ids, skip_special_tokens) of the convention; ids at or above the
  // vocabulary size read <extra_id_-k> as the reference spells them.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;

  // pad, eos, unk and the sentinels.
  bool is_special_id(int64_t id) const;
  std::string id_to_token(int64_t id) const;
  // Sentinel and special-token aware; unknown pieces give unk_id().
  int64_t token_to_id(std::string_view token) const;

 private:
  SentencePieceModel model_;
  T5TokenizerOptions options_;
  int vocab_size_ = 0;
  int pad_id_ = 0, eos_id_ = 1, unk_id_ = 2;
  SpecialTokenMatcher specials_;       // </s>, <unk>, <pad>, <extra_id_0..>
  std::vector<int32_t> special_ids_;   // id of each matcher token
};

}  // namespace fid::text
