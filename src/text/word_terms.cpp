#include "text/word_terms.h"

#include "text/metrics.h"
#include "text/unicode.h"

namespace fid::text {

void word_terms(std::string_view text, std::vector<std::string>& out) {
  thread_local std::u32string decoded, decomposed;
  thread_local std::vector<std::u32string> tokens;
  decoded.clear();
  decomposed.clear();
  tokens.clear();
  utf8_decode(text, decoded);
  nfd(decoded, decomposed);
  simple_tokenize(decomposed, /*uncased=*/true, tokens);
  for (const auto& t : tokens) {
    // simple_tokenize also yields single punctuation characters: not terms.
    const char32_t c = t[0];
    const bool word = c < 128 ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))
                              : (is_letter(c) || is_number(c) || is_mark(c));
    if (word) out.push_back(utf8_encode(t));
  }
}

}  // namespace fid::text
