// BERT's tokenization below the special tokens: the vocabulary (vocab.txt,
// id = line number), BasicTokenizer (text cleaning, CJK spacing, lower-casing
// and accent stripping, punctuation splitting) and greedy longest-match-first
// WordPiece with "##" continuations, as the reference's slow BertTokenizer.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace fid::text {

// Exact-match string -> id table built once, read by many threads.
class StringIdTable {
 public:
  void insert(std::string_view key, int32_t id);  // a repeated key takes the new id
  int32_t find(std::string_view key) const;       // -1 when absent
  size_t max_key_chars() const { return max_key_chars_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0, length = 0;
    int32_t id = -1;
  };
  void grow();
  std::string arena_;
  std::vector<Slot> slots_;
  size_t used_ = 0;
  size_t max_key_chars_ = 0;
};

class WordPieceVocab {
 public:
  // vocab.txt: one token per line ("\n"-separated, the line's id its number).
  // Throws fid::Error naming the file when missing, empty or not UTF-8.
  static WordPieceVocab load(const std::string& path);
  static WordPieceVocab from_tokens(std::vector<std::string> tokens, const std::string& name);

  int size() const { return static_cast<int>(tokens_.size()); }
  int32_t find(std::string_view token) const { return whole_.find(token); }
  // Id of "##" + rest.
  int32_t find_continuation(std::string_view rest) const { return continuation_.find(rest); }
  const std::string& token(int id) const { return tokens_[static_cast<size_t>(id)]; }
  const std::string& name() const { return name_; }
  size_t max_whole_chars() const { return whole_.max_key_chars(); }
  size_t max_continuation_chars() const { return continuation_.max_key_chars(); }

 private:
  std::vector<std::string> tokens_;
  StringIdTable whole_, continuation_;
  std::string name_;
};

struct BasicTokenizerOptions {
  bool lower_case = true;
  bool tokenize_chinese_chars = true;
  // Accent stripping (NFD, drop Mn): -1 follows lower_case, 0 off, 1 on.
  int strip_accents = -1;
};

// Words of BasicTokenizer as code points, reusing buffers between calls.
struct WordList {
  std::u32string chars;
  std::vector<size_t> ends;  // word i is chars[ends[i-1], ends[i])
  void clear() { chars.clear(); ends.clear(); }
  size_t size() const { return ends.size(); }
  std::u32string_view word(size_t i) const {
    size_t b = i == 0 ? 0 : ends[i - 1];
    return std::u32string_view(chars).substr(b, ends[i] - b);
  }
};

class BasicTokenizer {
 public:
  explicit BasicTokenizer(BasicTokenizerOptions options = {},
                          std::vector<std::string> never_split = {});
  // Appends the words of `text` to `out`.
  void tokenize(std::u32string_view text, WordList& out) const;
  std::vector<std::string> tokenize(std::string_view text) const;
  const BasicTokenizerOptions& options() const { return options_; }

 private:
  void finish_word(std::u32string_view word, WordList& out) const;
  BasicTokenizerOptions options_;
  std::unordered_set<std::u32string> never_split_;
};

// BERT's character classes (tokenization_bert.py): _is_punctuation,
// _is_control, _is_whitespace and _is_chinese_char.
bool is_bert_punctuation(char32_t c);
bool is_bert_control(char32_t c);
bool is_bert_whitespace(char32_t c);
bool is_cjk_ideograph(char32_t c);

// Greedy longest-match-first WordPiece of one word: appends its ids, or
// unk_id alone when some part matches nothing or the word has more than
// max_chars characters.
void wordpiece_word(const WordPieceVocab& vocab, std::u32string_view word, int32_t unk_id,
                    size_t max_chars, std::vector<int32_t>& out);

}  // namespace fid::text
