#include "text/t5_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error.h"
#include "common/files.h"

namespace fid::text {

T5Convention parse_t5_convention(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "v302" || n == "3.0.2" || n == "3" || n == "v3" || n == "302") return T5Convention::kV302;
  if (n == "v4" || n == "4" || n == "4.x" || n == "v4.x") return T5Convention::kV4;
  FID_THROW("unknown T5 tokenizer convention '", name,
            "': use v302 (transformers 3.0.2, no </s> appended) or v4 (transformers 4.x)");
}

const char* t5_convention_name(T5Convention convention) {
  return convention == T5Convention::kV302 ? "v302" : "v4";
}

T5Tokenizer T5Tokenizer::load(const std::string& path, T5TokenizerOptions options) {
  std::string file = path;
  if (is_directory(path)) {
    file = join_path(path, "spiece.model");
    FID_CHECK(path_exists(file), "no spiece.model in ", path,
              ": a T5 model directory needs its sentencepiece model (fid train-tokenizer makes one)");
  }
  return T5Tokenizer(SentencePieceModel::load(file), options);
}

T5Tokenizer::T5Tokenizer(SentencePieceModel model, T5TokenizerOptions options)
    : model_(std::move(model)), options_(options) {
  FID_CHECK(options_.extra_ids >= 0, "extra_ids must be >= 0, got ", options_.extra_ids);
  auto require_piece = [&](const char* piece) {
    int id = model_.piece_to_id(piece);
    FID_CHECK(model_.id_to_piece(id) == piece, model_.name(), " has no piece ", piece,
              ": not a T5 sentencepiece model (train one with pad_id=0 eos_id=1 unk_id=2, as ",
              "fid train-tokenizer does)");
    return id;
  };
  eos_id_ = require_piece("</s>");
  pad_id_ = require_piece("<pad>");
  unk_id_ = model_.piece_to_id("<unk>");
  vocab_size_ = model_.piece_size() + options_.extra_ids;

  std::vector<std::string> tokens = {"</s>", "<unk>", "<pad>"};
  special_ids_ = {eos_id_, unk_id_, pad_id_};
  for (int i = 0; i < options_.extra_ids; ++i) {
    tokens.push_back("<extra_id_" + std::to_string(i) + ">");
    special_ids_.push_back(vocab_size_ - 1 - i);
  }
  specials_ = SpecialTokenMatcher(std::move(tokens));
}

namespace {
// Every special token of T5 starts with '<': text without one needs no split.
bool may_hold_special(std::string_view text) {
  return std::memchr(text.data(), '<', text.size()) != nullptr;
}
}  // namespace

void T5Tokenizer::text_to_ids(std::string_view text, std::vector<int32_t>& out) const {
  bool v302 = options_.convention == T5Convention::kV302;
  if (!may_hold_special(text)) {
    if (v302) {
      if (!python_strip(text).empty()) model_.encode_cached(python_rstrip(text), out);
    } else if (!text.empty()) {
      model_.encode_cached(text, out);
    }
    return;
  }
  thread_local std::vector<TextSegment> segments;
  split_on_special_tokens(text, specials_,
                          v302 ? SpecialSplitStyle::kRstripSegments : SpecialSplitStyle::kStripNeighbours,
                          segments);
  for (const TextSegment& seg : segments) {
    if (seg.special >= 0) {
      out.push_back(special_ids_[static_cast<size_t>(seg.special)]);
    } else {
      model_.encode_cached(seg.text, out);
    }
  }
}

std::vector<std::string> T5Tokenizer::tokenize(std::string_view text) const {
  bool v302 = options_.convention == T5Convention::kV302;
  std::vector<TextSegment> segments;
  split_on_special_tokens(text, specials_,
                          v302 ? SpecialSplitStyle::kRstripSegments : SpecialSplitStyle::kStripNeighbours,
                          segments);
  std::vector<std::string> tokens;
  for (const TextSegment& seg : segments) {
    if (seg.special >= 0) {
      tokens.emplace_back(seg.text);
    } else {
      for (std::string& p : model_.encode_pieces(seg.text)) tokens.push_back(std::move(p));
    }
  }
  return tokens;
}

std::vector<int32_t> T5Tokenizer::encode(std::string_view text, int64_t max_length) const {
  std::vector<int32_t> ids;
  text_to_ids(text, ids);
  if (options_.convention == T5Convention::kV302) {
    FID_CHECK(max_length <= 0 || max_length >= 1, "max_length must be >= 1, got ", max_length);
    if (max_length > 0 && static_cast<int64_t>(ids.size()) > max_length)
      ids.resize(static_cast<size_t>(max_length));
    return ids;
  }
  FID_CHECK(max_length <= 0 || max_length >= 2, "max_length ", max_length,
            " leaves no room for text and </s> (v4 convention): use at least 2");
  // transformers 4.x reserves one position for </s> when truncating, then
  // appends </s> unless the kept ids already end with it.
  if (max_length > 0 && static_cast<int64_t>(ids.size()) + 1 > max_length)
    ids.resize(static_cast<size_t>(max_length - 1));
  if (ids.empty() || ids.back() != eos_id_) ids.push_back(eos_id_);
  return ids;
}

TokenBatch T5Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                     const BatchOptions& options) const {
  std::vector<std::vector<int32_t>> rows;
  rows.reserve(texts.size());
  for (const std::string& t : texts) rows.push_back(encode(t, options.max_length));
  return pad_rows(rows, nullptr, options, pad_id_);
}

bool T5Tokenizer::is_special_id(int64_t id) const {
  return id == pad_id_ || id == eos_id_ || id == unk_id_ ||
         (id >= model_.piece_size() && id < vocab_size_);
}

std::string T5Tokenizer::id_to_token(int64_t id) const {
  FID_CHECK(id >= 0, "negative token id ", id, " cannot be decoded");
  if (id < model_.piece_size()) return std::string(model_.id_to_piece(static_cast<int>(id)));
  return "<extra_id_" + std::to_string(static_cast<int64_t>(vocab_size_) - 1 - id) + ">";
}

int64_t T5Tokenizer::token_to_id(std::string_view token) const {
  constexpr std::string_view kPrefix = "<extra_id_";
  if (token.substr(0, kPrefix.size()) == kPrefix) {
    size_t i = kPrefix.size();
    int64_t num = 0;
    while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i])) && num < (1 << 30))
      num = num * 10 + (token[i++] - '0');
    if (i > kPrefix.size() && i < token.size() && token[i] == '>') return vocab_size_ - num - 1;
  }
  return model_.piece_to_id(token);
}

std::string T5Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (skip_special_tokens && is_special_id(id)) continue;
    tokens.push_back(id_to_token(id));
  }
  if (options_.convention == T5Convention::kV302) {
    // 3.0.2: all pieces go to sentencepiece (control pieces vanish, <unk>
    // reads " ⁇ ", unknown pieces such as sentinels stay literal).
    if (tokens.empty()) return "";
    std::vector<std::string_view> views(tokens.begin(), tokens.end());
    return clean_up_tokenization(model_.decode_pieces(views));
  }
  // 4.x: special tokens are spelled out, the text between them detokenised,
  // with one space before a special token that follows text.
  std::string out;
  std::vector<std::string_view> current;
  bool prev_special = false;
  for (const std::string& tok : tokens) {
    if (specials_.contains(tok)) {
      if (!prev_special) out += ' ';
      out += model_.decode_pieces(current);
      out += tok;
      prev_special = true;
      current.clear();
    } else {
      current.emplace_back(tok);
      prev_special = false;
    }
  }
  out += model_.decode_pieces(current);
  return clean_up_tokenization(python_strip(out));
}

std::string T5Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  return decode(std::vector<int64_t>(ids.begin(), ids.end()), skip_special_tokens);
}

}  // namespace fid::text
