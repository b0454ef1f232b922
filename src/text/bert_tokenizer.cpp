#include "text/bert_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "text/unicode.h"

namespace fid::text {

BertTokenizer BertTokenizer::load(const std::string& path, BertTokenizerOptions options) {
  if (!options.do_lower_case.has_value() && is_directory(path)) {
    std::string config = join_path(path, "tokenizer_config.json");
    if (path_exists(config)) {
      nlohmann::json j = read_json_file(config);
      if (j.contains("do_lower_case")) {
        FID_CHECK(j["do_lower_case"].is_boolean(), config, ": do_lower_case must be true or false");
        options.do_lower_case = j["do_lower_case"].get<bool>();
      }
    }
  }
  return BertTokenizer(WordPieceVocab::load(path), options);
}

BertTokenizer::BertTokenizer(WordPieceVocab vocab, BertTokenizerOptions options)
    : vocab_(std::move(vocab)), options_(options), lower_case_(options.do_lower_case.value_or(true)) {
  FID_CHECK(options_.max_input_chars_per_word > 0, "max_input_chars_per_word must be positive");
  auto require = [&](const char* token) {
    int32_t id = vocab_.find(token);
    FID_CHECK(id >= 0, "WordPiece vocabulary ", vocab_.name(), " lacks the special token ", token,
              ": is it a BERT vocab.txt?");
    return id;
  };
  unk_id_ = require("[UNK]");
  sep_id_ = require("[SEP]");
  pad_id_ = require("[PAD]");
  cls_id_ = require("[CLS]");
  mask_id_ = vocab_.find("[MASK]");
  std::vector<std::string> specials = {"[UNK]", "[SEP]", "[PAD]", "[CLS]"};
  special_ids_ = {unk_id_, sep_id_, pad_id_, cls_id_};
  if (mask_id_ >= 0) {
    specials.emplace_back("[MASK]");
    special_ids_.push_back(mask_id_);
  }
  BasicTokenizerOptions basic{lower_case_, options_.tokenize_chinese_chars, options_.strip_accents};
  basic_ = BasicTokenizer(basic, specials);
  basic_plain_ = BasicTokenizer(basic);
  specials_ = SpecialTokenMatcher(std::move(specials));
}

std::vector<std::string> BertTokenizer::basic_tokenize(std::string_view text) const {
  return basic_.tokenize(text);
}

void BertTokenizer::text_to_ids(std::string_view text, std::vector<int32_t>& out) const {
  thread_local std::vector<TextSegment> segments;
  thread_local std::u32string chars, lowered;
  thread_local WordList words;
  split_on_special_tokens(text, specials_, SpecialSplitStyle::kStripNeighbours, segments);
  for (const TextSegment& seg : segments) {
    if (seg.special >= 0) {
      out.push_back(special_ids_[static_cast<size_t>(seg.special)]);
      continue;
    }
    chars.clear();
    utf8_decode(seg.text, chars);
    std::u32string_view input = chars;
    if (lower_case_) {
      // transformers 4.x lower-cases the text outside special tokens one
      // character at a time before BasicTokenizer (so Σ never becomes ς).
      lowered.clear();
      for (char32_t c : chars) python_lower_char(c, lowered);
      input = lowered;
    }
    words.clear();
    basic_plain_.tokenize(input, words);
    size_t max_chars = static_cast<size_t>(options_.max_input_chars_per_word);
    for (size_t i = 0; i < words.size(); ++i) wordpiece_word(vocab_, words.word(i), unk_id_, max_chars, out);
  }
}

std::vector<std::string> BertTokenizer::tokenize(std::string_view text) const {
  std::vector<int32_t> ids;
  text_to_ids(text, ids);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  // Every id came from a vocabulary entry that spells exactly the piece.
  for (int32_t id : ids) tokens.push_back(vocab_.token(id));
  return tokens;
}

BertTokenizer::Encoding BertTokenizer::finish(std::vector<int32_t> a, const std::vector<int32_t>* b,
                                              int64_t max_length) const {
  int64_t specials = b == nullptr ? 2 : 3;
  int64_t la = static_cast<int64_t>(a.size());
  int64_t lb = b == nullptr ? 0 : static_cast<int64_t>(b->size());
  std::vector<int32_t> b_kept = b == nullptr ? std::vector<int32_t>{} : *b;
  if (max_length > 0 && la + lb + specials > max_length) {
    int64_t remove = la + lb + specials - max_length;
    if (b == nullptr) {
      FID_CHECK(remove < la, "max_length ", max_length, " leaves no room for text after [CLS] and [SEP]");
      a.resize(static_cast<size_t>(la - remove));
    } else {
      // longest_first: trim the longer side down to the other, then both
      // alternately (the first sequence loses the smaller half).
      int64_t first = std::min(std::abs(lb - la), remove);
      int64_t second = remove - first;
      int64_t from_a = la > lb ? first + second / 2 : second / 2;
      int64_t from_b = la > lb ? second - second / 2 : first + second - second / 2;
      a.resize(static_cast<size_t>(std::max<int64_t>(0, la - from_a)));
      b_kept.resize(static_cast<size_t>(std::max<int64_t>(0, lb - from_b)));
      FID_CHECK(static_cast<int64_t>(a.size() + b_kept.size()) + specials <= max_length, "max_length ",
                max_length, " is too small for a sentence pair: use at least ", specials);
    }
  }
  Encoding enc;
  enc.ids.reserve(a.size() + b_kept.size() + static_cast<size_t>(specials));
  enc.ids.push_back(cls_id_);
  enc.ids.insert(enc.ids.end(), a.begin(), a.end());
  enc.ids.push_back(sep_id_);
  enc.type_ids.assign(enc.ids.size(), 0);
  if (b != nullptr) {
    enc.ids.insert(enc.ids.end(), b_kept.begin(), b_kept.end());
    enc.ids.push_back(sep_id_);
    enc.type_ids.resize(enc.ids.size(), 1);
  }
  return enc;
}

BertTokenizer::Encoding BertTokenizer::encode(std::string_view text, int64_t max_length) const {
  std::vector<int32_t> ids;
  text_to_ids(text, ids);
  return finish(std::move(ids), nullptr, max_length);
}

BertTokenizer::Encoding BertTokenizer::encode_pair(std::string_view a, std::string_view b,
                                                   int64_t max_length) const {
  std::vector<int32_t> ia, ib;
  text_to_ids(a, ia);
  text_to_ids(b, ib);
  return finish(std::move(ia), &ib, max_length);
}

TokenBatch BertTokenizer::pad(std::vector<Encoding> rows, const BatchOptions& options) const {
  std::vector<std::vector<int32_t>> ids(rows.size()), types(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    ids[r] = std::move(rows[r].ids);
    types[r] = std::move(rows[r].type_ids);
  }
  return pad_rows(ids, &types, options, pad_id_);
}

TokenBatch BertTokenizer::encode_batch(const std::vector<std::string>& texts,
                                       const BatchOptions& options) const {
  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  for (const std::string& t : texts) rows.push_back(encode(t, options.max_length));
  return pad(std::move(rows), options);
}

TokenBatch BertTokenizer::encode_pair_batch(const std::vector<std::string>& a,
                                            const std::vector<std::string>& b,
                                            const BatchOptions& options) const {
  FID_CHECK_EQ(a.size(), b.size(), "sentence pair batch: as many second texts as first ones");
  std::vector<Encoding> rows;
  rows.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) rows.push_back(encode_pair(a[i], b[i], options.max_length));
  return pad(std::move(rows), options);
}

bool BertTokenizer::is_special_id(int64_t id) const {
  return std::find(special_ids_.begin(), special_ids_.end(), id) != special_ids_.end();
}

std::string BertTokenizer::id_to_token(int64_t id) const {
  // Unknown ids, and ids of a vocab line repeated later, read [UNK] as in
  // the reference's id -> token dictionary.
  if (id < 0 || id >= vocab_.size()) return "[UNK]";
  const std::string& tok = vocab_.token(static_cast<int>(id));
  return vocab_.find(tok) == id ? tok : "[UNK]";
}

std::string BertTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string joined;
  bool first = true;
  for (int64_t id : ids) {
    if (skip_special_tokens && is_special_id(id)) continue;
    if (!first) joined += ' ';
    joined += id_to_token(id);
    first = false;
  }
  std::string merged;
  merged.reserve(joined.size());
  for (size_t i = 0; i < joined.size(); ++i) {
    if (joined.compare(i, 3, " ##") == 0) {
      i += 2;
      continue;
    }
    merged += joined[i];
  }
  return clean_up_tokenization(python_strip(merged));
}

}  // namespace fid::text
