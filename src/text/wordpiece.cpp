#include "text/wordpiece.h"

#include <functional>

#include "common/error.h"
#include "common/files.h"
#include "text/unicode.h"

namespace fid::text {
namespace {

size_t utf8_chars(std::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

// ASCII classes of BasicTokenizer, precomputed: what cleaning drops, what
// separates words, what splits off as punctuation.
enum AsciiClass : uint8_t { kPlain = 0, kDrop = 1, kSpace = 2, kPunct = 3 };

struct AsciiTable {
  AsciiClass cls[128];
  AsciiTable() {
    for (int c = 0; c < 128; ++c) {
      if (c == '\t' || c == '\n' || c == '\r' || c == ' ') cls[c] = kSpace;
      else if (c < 0x20 || c == 0x7F) cls[c] = kDrop;  // NUL and the other C0 controls
      else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126)) cls[c] = kPunct;
      else cls[c] = kPlain;
    }
  }
};
const AsciiTable kAscii;

}  // namespace

void StringIdTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void StringIdTable::insert(std::string_view key, int32_t id) {
  if ((used_ + 1) * 2 > slots_.size()) grow();
  uint64_t h = std::hash<std::string_view>()(key);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.id < 0) {
      s.hash = h;
      s.offset = static_cast<uint32_t>(arena_.size());
      s.length = static_cast<uint32_t>(key.size());
      s.id = id;
      arena_.append(key);
      ++used_;
      max_key_chars_ = std::max(max_key_chars_, utf8_chars(key));
      return;
    }
    if (s.hash == h && std::string_view(arena_).substr(s.offset, s.length) == key) {
      s.id = id;  // vocab.txt duplicates: the later line wins, as in a Python dict
      return;
    }
  }
}

int32_t StringIdTable::find(std::string_view key) const {
  if (slots_.empty()) return -1;
  uint64_t h = std::hash<std::string_view>()(key);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (s.hash == h && s.length == key.size() &&
        std::string_view(arena_).substr(s.offset, s.length) == key)
      return s.id;
  }
}

WordPieceVocab WordPieceVocab::load(const std::string& path) {
  std::string file = path;
  if (is_directory(path)) file = join_path(path, "vocab.txt");
  FID_CHECK(path_exists(file), "WordPiece vocabulary ", file,
            " does not exist: give a BERT model directory holding vocab.txt, or the file itself");
  std::string text = read_file(file);
  size_t bad = 0;
  FID_CHECK(is_valid_utf8(text, &bad), "WordPiece vocabulary ", file,
            " is not UTF-8 text (bad byte at offset ", bad, "): is it really a vocab.txt?");
  // Python reads it in universal-newline mode: \r\n and \r end lines too.
  std::vector<std::string> tokens;
  std::string cur;
  bool pending = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      tokens.push_back(std::move(cur));
      cur.clear();
      pending = false;
    } else {
      cur.push_back(ch);
      pending = true;
    }
  }
  if (pending) tokens.push_back(std::move(cur));
  FID_CHECK(!tokens.empty(), "WordPiece vocabulary ", file, " is empty");
  return from_tokens(std::move(tokens), file);
}

WordPieceVocab WordPieceVocab::from_tokens(std::vector<std::string> tokens, const std::string& name) {
  WordPieceVocab v;
  v.tokens_ = std::move(tokens);
  v.name_ = name;
  for (size_t i = 0; i < v.tokens_.size(); ++i) {
    const std::string& t = v.tokens_[i];
    v.whole_.insert(t, static_cast<int32_t>(i));
    if (t.size() > 2 && t[0] == '#' && t[1] == '#')
      v.continuation_.insert(std::string_view(t).substr(2), static_cast<int32_t>(i));
  }
  return v;
}

bool is_bert_punctuation(char32_t c) {
  if (c < 128) return kAscii.cls[c] == kPunct;
  return is_punctuation_category(c);
}

bool is_bert_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return is_other(c);  // every C* category, unassigned (Cn) included
}

bool is_bert_whitespace(char32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
  return c >= 128 && category_name(c)[0] == 'Z' && category_name(c)[1] == 's';
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

BasicTokenizer::BasicTokenizer(BasicTokenizerOptions options, std::vector<std::string> never_split)
    : options_(options) {
  for (const std::string& s : never_split) never_split_.insert(utf8_decode(s));
}

void BasicTokenizer::finish_word(std::u32string_view word, WordList& out) const {
  if (word.empty()) return;
  if (!never_split_.empty() && never_split_.count(std::u32string(word)) != 0) {
    out.chars.append(word);
    out.ends.push_back(out.chars.size());
    return;
  }
  bool ascii = true;
  for (char32_t c : word) ascii = ascii && c < 128;
  bool strip = options_.strip_accents < 0 ? options_.lower_case : options_.strip_accents == 1;
  thread_local std::u32string lowered, decomposed;
  std::u32string_view w = word;
  if (options_.lower_case) {
    lowered.clear();
    if (ascii) {
      for (char32_t c : word) lowered.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else {
      python_lower(word, lowered);
    }
    w = lowered;
  }
  if (strip && !ascii) {
    decomposed.clear();
    nfd(w, decomposed);
    size_t k = 0;
    for (char32_t c : decomposed)
      if (!is_nonspacing_mark(c)) decomposed[k++] = c;
    decomposed.resize(k);
    w = decomposed;
  }
  // Punctuation characters become words of their own.
  size_t start = out.chars.size();
  for (char32_t c : w) {
    if (is_bert_punctuation(c)) {
      if (out.chars.size() > start) out.ends.push_back(out.chars.size());
      out.chars.push_back(c);
      out.ends.push_back(out.chars.size());
      start = out.chars.size();
    } else {
      out.chars.push_back(c);
    }
  }
  if (out.chars.size() > start) out.ends.push_back(out.chars.size());
}

void BasicTokenizer::tokenize(std::u32string_view text, WordList& out) const {
  thread_local std::u32string word;
  word.clear();
  for (char32_t c : text) {
    if (c < 128) {
      AsciiClass cls = kAscii.cls[c];
      if (cls == kDrop) continue;
      if (cls == kSpace) {
        finish_word(word, out);
        word.clear();
      } else {
        word.push_back(c);
      }
      continue;
    }
    if (c == 0xFFFD || is_bert_control(c)) continue;
    if (is_bert_whitespace(c) || is_python_space(c)) {
      finish_word(word, out);
      word.clear();
    } else if (options_.tokenize_chinese_chars && is_cjk_ideograph(c)) {
      // The reference puts spaces around each ideograph.
      finish_word(word, out);
      word.clear();
      finish_word(std::u32string_view(&c, 1), out);
    } else {
      word.push_back(c);
    }
  }
  finish_word(word, out);
  word.clear();
}

std::vector<std::string> BasicTokenizer::tokenize(std::string_view text) const {
  WordList words;
  tokenize(utf8_decode(text), words);
  std::vector<std::string> result;
  for (size_t i = 0; i < words.size(); ++i) result.push_back(utf8_encode(words.word(i)));
  return result;
}

void wordpiece_word(const WordPieceVocab& vocab, std::u32string_view word, int32_t unk_id,
                    size_t max_chars, std::vector<int32_t>& out) {
  if (word.size() > max_chars) {
    out.push_back(unk_id);
    return;
  }
  thread_local std::string bytes;
  thread_local std::vector<size_t> offset;  // byte offset of each character, plus the end
  bytes.clear();
  offset.clear();
  for (char32_t c : word) {
    offset.push_back(bytes.size());
    utf8_append(bytes, c);
  }
  offset.push_back(bytes.size());
  size_t n = word.size();
  size_t base = out.size();
  std::string_view all(bytes);
  for (size_t start = 0; start < n;) {
    size_t longest = start == 0 ? vocab.max_whole_chars() : vocab.max_continuation_chars();
    size_t end = std::min(n, start + longest);
    int32_t id = -1;
    for (; end > start; --end) {
      std::string_view piece = all.substr(offset[start], offset[end] - offset[start]);
      id = start == 0 ? vocab.find(piece) : vocab.find_continuation(piece);
      if (id >= 0) break;
    }
    if (id < 0) {
      out.resize(base);
      out.push_back(unk_id);
      return;
    }
    out.push_back(id);
    start = end;
  }
}

}  // namespace fid::text
