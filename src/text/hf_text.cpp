#include "text/hf_text.h"

#include <algorithm>
#include <cstring>

#include "text/unicode.h"

namespace fid::text {
namespace {

// Decodes the character that starts at byte i; *len is its byte length.
char32_t char_at(std::string_view s, size_t i, size_t* len) {
  size_t j = i;
  char32_t c = utf8_next(s, j);
  *len = j - i;
  return c;
}

// Start of the character that ends just before byte `end`.
size_t char_start_before(std::string_view s, size_t end) {
  size_t i = end - 1;
  size_t steps = 0;
  while (i > 0 && steps < 3 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
    --i;
    ++steps;
  }
  return i;
}

bool ascii_space(unsigned char b) { return (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20); }

}  // namespace

std::string_view python_lstrip(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (!ascii_space(b)) break;
      ++i;
      continue;
    }
    size_t len = 0;
    if (!is_python_space(char_at(s, i, &len))) break;
    i += len;
  }
  return s.substr(i);
}

std::string_view python_rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    auto b = static_cast<unsigned char>(s[end - 1]);
    if (b < 0x80) {
      if (!ascii_space(b)) break;
      --end;
      continue;
    }
    size_t start = char_start_before(s, end);
    size_t len = 0;
    char32_t c = char_at(s, start, &len);
    if (start + len != end || !is_python_space(c)) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view python_strip(std::string_view s) { return python_rstrip(python_lstrip(s)); }

std::vector<std::string_view> python_split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t i = 0, word = std::string_view::npos;
  while (i < s.size()) {
    size_t len = 1;
    auto b = static_cast<unsigned char>(s[i]);
    bool space = b < 0x80 ? ascii_space(b) : is_python_space(char_at(s, i, &len));
    if (space) {
      if (word != std::string_view::npos) parts.push_back(s.substr(word, i - word));
      word = std::string_view::npos;
    } else if (word == std::string_view::npos) {
      word = i;
    }
    i += len;
  }
  if (word != std::string_view::npos) parts.push_back(s.substr(word));
  return parts;
}

SpecialTokenMatcher::SpecialTokenMatcher(std::vector<std::string> tokens)
    : tokens_(std::move(tokens)), by_first_byte_(256) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].empty()) continue;
    by_first_byte_[static_cast<unsigned char>(tokens_[i][0])].push_back(static_cast<int>(i));
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
      return tokens_[static_cast<size_t>(a)].size() > tokens_[static_cast<size_t>(b)].size();
    });
  }
}

int SpecialTokenMatcher::match_at(std::string_view text, size_t pos) const {
  if (by_first_byte_.empty()) return -1;
  for (int idx : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    const std::string& tok = tokens_[static_cast<size_t>(idx)];
    if (text.size() - pos >= tok.size() && std::memcmp(text.data() + pos, tok.data(), tok.size()) == 0)
      return idx;
  }
  return -1;
}

bool SpecialTokenMatcher::contains(std::string_view token) const {
  return !token.empty() && match_at(token, 0) >= 0 &&
         tokens_[static_cast<size_t>(match_at(token, 0))].size() == token.size();
}

void split_on_special_tokens(std::string_view text, const SpecialTokenMatcher& matcher,
                             SpecialSplitStyle style, std::vector<TextSegment>& out) {
  out.clear();
  if (style == SpecialSplitStyle::kRstripSegments && python_strip(text).empty()) return;
  size_t seg_start = 0;
  for (size_t i = 0; i < text.size();) {
    int idx = matcher.match_at(text, i);
    if (idx < 0) {
      ++i;
      continue;
    }
    if (i > seg_start) out.push_back({text.substr(seg_start, i - seg_start), -1});
    size_t len = matcher.tokens()[static_cast<size_t>(idx)].size();
    out.push_back({text.substr(i, len), idx});
    i += len;
    seg_start = i;
  }
  if (seg_start < text.size()) out.push_back({text.substr(seg_start), -1});

  // Strip the plain segments, then drop those left empty.
  for (size_t k = 0; k < out.size(); ++k) {
    TextSegment& seg = out[k];
    if (seg.special >= 0) continue;
    if (style == SpecialSplitStyle::kRstripSegments) {
      seg.text = python_rstrip(seg.text);
    } else {
      if (k + 1 < out.size() && out[k + 1].special >= 0) seg.text = python_rstrip(seg.text);
      if (k > 0 && out[k - 1].special >= 0) seg.text = python_lstrip(seg.text);
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(),
                           [](const TextSegment& s) { return s.special < 0 && s.text.empty(); }),
            out.end());
}

std::string clean_up_tokenization(std::string_view text) {
  // Sequential replacements, in the reference's order, each over the whole
  // string (a later rule sees the result of the earlier ones).
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string cur(text);
  std::string next;
  for (const auto& [from, to] : kRules) {
    size_t from_len = std::strlen(from);
    if (cur.find(from) == std::string::npos) continue;
    next.clear();
    size_t pos = 0;
    while (true) {
      size_t hit = cur.find(from, pos);
      if (hit == std::string::npos) break;
      next.append(cur, pos, hit - pos);
      next.append(to);
      pos = hit + from_len;
    }
    next.append(cur, pos, std::string::npos);
    cur.swap(next);
  }
  return cur;
}

}  // namespace fid::text
