// Text handling shared by the tokenizers, with the semantics of the Hugging
// Face slow tokenizers the reference used: splitting out special tokens (each
// transformers version strips whitespace around them differently), Python's
// str.strip(), and clean_up_tokenization on decoded text.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fid::text {

// Whitespace here is Python's str.isspace().
std::string_view python_strip(std::string_view s);
std::string_view python_lstrip(std::string_view s);
std::string_view python_rstrip(std::string_view s);
// str.split() with no argument: runs of whitespace separate, no empty parts.
std::vector<std::string_view> python_split(std::string_view s);

// A set of literal tokens found in text by leftmost-longest matching.
class SpecialTokenMatcher {
 public:
  SpecialTokenMatcher() = default;
  explicit SpecialTokenMatcher(std::vector<std::string> tokens);
  // Index of the longest token that starts at `pos`, or -1.
  int match_at(std::string_view text, size_t pos) const;
  const std::vector<std::string>& tokens() const { return tokens_; }
  bool contains(std::string_view token) const;

 private:
  std::vector<std::string> tokens_;
  std::vector<std::vector<int>> by_first_byte_;  // longest first
};

// How whitespace next to a special token is dropped.
enum class SpecialSplitStyle {
  // transformers 4.x: the text before a special token is right-stripped and
  // the text after it left-stripped.
  kStripNeighbours,
  // transformers 3.0.2: every text segment is right-stripped only, and
  // whitespace-only input gives nothing.
  kRstripSegments,
};

struct TextSegment {
  std::string_view text;
  int special = -1;  // index into the matcher's tokens, or -1 for plain text
};

// Splits text into plain segments and special tokens; empty plain segments
// are dropped.
void split_on_special_tokens(std::string_view text, const SpecialTokenMatcher& matcher,
                             SpecialSplitStyle style, std::vector<TextSegment>& out);

// transformers' clean_up_tokenization (the same in 3.0.2 and 4.28.1): drops
// the space before . ? ! , and in English contractions.
std::string clean_up_tokenization(std::string_view text);

}  // namespace fid::text
