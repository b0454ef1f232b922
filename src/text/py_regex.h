// A small backtracking regex engine with the semantics of Python's third-party
// `regex` module (version 0 behaviour) over code points, for DPR's regex
// answer matching: has_answer(..., match_type='regex') compiles each answer
// with IGNORECASE | UNICODE | MULTILINE and calls .search() on the NFD text.
//
// Supported: literals, `.`, sets `[...]` (ranges, negation, escapes, POSIX
// classes, \p{..}), \d \w \s \h and their negations, \b \B \A \Z \G \m \M \K,
// \p{..} \P{..} (general categories, common scripts, common binary
// properties), \X, groups (capturing, named, non-capturing, atomic, branch
// reset), lookahead and lookbehind, alternation, greedy / lazy / possessive
// quantifiers, backreferences, inline flags (i m s x f u, scoped or global;
// b and e are accepted: they only affect fuzzy matching). Simple case folding
// under IGNORECASE, full case folding under FULLCASE (?f).
//
// Not supported (compiling throws, so DPR counts the pattern as no match):
// fuzzy matching, recursion and group calls, conditionals, control verbs,
// \N{name}, named lists \L<..>, the ASCII / LOCALE / WORD / POSIX / REVERSE
// flags and version 1 (?V1). Property support is partial: see py_regex_props.cpp.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace fid::text {

namespace regex_detail {
struct Program;
}

struct RegexMatch {
  bool matched = false;
  size_t start = 0;  // [start, end) in code points of the searched text
  size_t end = 0;
};

class PyRegex {
 public:
  // Compile-time flags, as the `regex` module's flags argument.
  enum Flags : unsigned {
    kIgnoreCase = 1u << 0,
    kMultiline = 1u << 1,
    kDotAll = 1u << 2,
    kVerbose = 1u << 3,
    kFullCase = 1u << 4,
  };
  // DPR's flags: regex.IGNORECASE + regex.UNICODE + regex.MULTILINE.
  static constexpr unsigned kDprFlags = kIgnoreCase | kMultiline;

  // Throws fid::Error naming the problem and its position (in code points)
  // when the pattern is invalid for the `regex` module or uses a feature this
  // engine does not implement.
  explicit PyRegex(std::u32string_view pattern, unsigned flags = kDprFlags);
  ~PyRegex();
  PyRegex(PyRegex&&) noexcept;
  PyRegex& operator=(PyRegex&&) noexcept;

  // The first match of regex.search(text): the leftmost start, and at that
  // start the first alternative in backtracking order. A search that exceeds
  // the step limit (see py_regex_match.cpp) reports no match.
  RegexMatch search(std::u32string_view text) const;

 private:
  std::unique_ptr<regex_detail::Program> program_;
};

}  // namespace fid::text
