// BERT's tokenizer (the reference's slow BertTokenizer of transformers 4.x):
// special tokens split out first, lower-casing of the rest, BasicTokenizer,
// WordPiece; [CLS] text [SEP] (text_b [SEP]), longest-first truncation of
// pairs, right padding with [PAD], token type ids.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/hf_text.h"
#include "text/token_batch.h"
#include "text/wordpiece.h"

namespace fid::text {

struct BertTokenizerOptions {
  // Unset: tokenizer_config.json's do_lower_case when the model directory has
  // one, else true (uncased BERT).
  std::optional<bool> do_lower_case;
  bool tokenize_chinese_chars = true;
  int strip_accents = -1;  // -1 follows do_lower_case
  int max_input_chars_per_word = 100;
};

class BertTokenizer {
 public:
  // `path`: a vocab.txt or a directory holding one.
  static BertTokenizer load(const std::string& path, BertTokenizerOptions options = {});
  BertTokenizer(WordPieceVocab vocab, BertTokenizerOptions options);

  bool lower_case() const { return lower_case_; }
  int vocab_size() const { return vocab_.size(); }
  int pad_id() const { return pad_id_; }
  int cls_id() const { return cls_id_; }
  int sep_id() const { return sep_id_; }
  int unk_id() const { return unk_id_; }
  const WordPieceVocab& vocab() const { return vocab_; }

  // BasicTokenizer alone (special tokens are never split).
  std::vector<std::string> basic_tokenize(std::string_view text) const;
  std::vector<std::string> tokenize(std::string_view text) const;
  // The ids of tokenize(text), appended to out.
  void text_to_ids(std::string_view text, std::vector<int32_t>& out) const;

  struct Encoding {
    std::vector<int32_t> ids;
    std::vector<int32_t> type_ids;
  };
  // [CLS] text [SEP], truncated to max_length (<= 0: no truncation).
  Encoding encode(std::string_view text, int64_t max_length = 0) const;
  // [CLS] a [SEP] b [SEP] with longest_first truncation.
  Encoding encode_pair(std::string_view a, std::string_view b, int64_t max_length = 0) const;
  TokenBatch encode_batch(const std::vector<std::string>& texts, const BatchOptions& options) const;
  TokenBatch encode_pair_batch(const std::vector<std::string>& a, const std::vector<std::string>& b,
                               const BatchOptions& options) const;

  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;
  std::string id_to_token(int64_t id) const;
  bool is_special_id(int64_t id) const;

 private:
  Encoding finish(std::vector<int32_t> a, const std::vector<int32_t>* b, int64_t max_length) const;
  TokenBatch pad(std::vector<Encoding> rows, const BatchOptions& options) const;

  WordPieceVocab vocab_;
  BertTokenizerOptions options_;
  bool lower_case_ = true;
  BasicTokenizer basic_;        // never_split = the special tokens (for basic_tokenize)
  BasicTokenizer basic_plain_;  // for tokenize: specials are already split out
  SpecialTokenMatcher specials_;
  std::vector<int32_t> special_ids_;
  int pad_id_ = 0, cls_id_ = 0, sep_id_ = 0, unk_id_ = 0, mask_id_ = -1;
};

}  // namespace fid::text
