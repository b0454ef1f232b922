// Internals of PyRegex shared by its parser, matcher and character tables:
// the compiled pattern is a tree of nodes held in one vector.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fid::text::regex_detail {

// Flags while parsing (the public PyRegex::Flags plus the ones that only
// exist inline).
enum ParseFlags : unsigned {
  kIgnoreCase = 1u << 0,
  kMultiline = 1u << 1,
  kDotAll = 1u << 2,
  kVerbose = 1u << 3,
  kFullCase = 1u << 4,
};

enum class PropKind : uint8_t {
  kCategoryMask,  // value: bit mask over utf8proc categories
  kScript,        // value: index into the script table
  kAny,
  kAlphabetic,
  kWhiteSpace,
  kWord,
  kBlank,
  kVertSpace,
  kUppercase,
  kLowercase,
  kGraph,
  kPrint,
  kXDigit,
  kPosixDigit,
  kPosixAlnum,
  kPosixPunct,
  kPosixXDigit,
};

struct Property {
  PropKind kind = PropKind::kAny;
  uint32_t value = 0;
  bool positive = true;
};

// Looks a \p{prop=value} / \p{value} / [[:value:]] up as the `regex` module
// does (names compared without case, spaces, '_' and '-'). False when unknown.
bool lookup_property(std::u32string_view prop, std::u32string_view value, bool posix,
                     Property& out);
// Membership; under IGNORECASE Lu/Ll/Lt stand for any cased letter category
// and Uppercase/Lowercase for Cased, as the module's matches_PROPERTY_IGN.
bool has_property(const Property& p, char32_t c, bool ignore_case);

// Simple case folding (CaseFolding.txt C + S): two characters are equal
// under IGNORECASE when their folds are equal (but see same_char_ignore_case).
char32_t simple_fold(char32_t c);
// Equality under IGNORECASE (simple folding, plus the module's i/İ and I/ı links).
bool same_char_ignore_case(char32_t a, char32_t b);
// Every character equal to c under IGNORECASE (c included); returns the count.
int case_variants(char32_t c, char32_t out[8]);
// Full case folding (C + F), appended to out: ß gives "ss".
void full_fold(char32_t c, std::u32string& out);

bool is_word_char(char32_t c);   // \w
bool is_white_space(char32_t c); // \s: the White_Space property

struct SetItem {
  enum Kind : uint8_t { kChar, kRange, kProp } kind = kChar;
  char32_t lo = 0, hi = 0;
  Property prop;
};

enum class Op : uint8_t {
  kString,     // text (folded when full_case)
  kAny,        // '.'
  kSet,        // set_items, negated
  kProp,       // a property outside a set
  kSeq,        // kids in order
  kAlt,        // kids are the branches
  kGroup,      // capture `group` around kids[0]
  kRepeat,     // kids[0] repeated [min, max]
  kBackref,    // the text of `group`
  kLook,       // lookahead / lookbehind of kids[0]
  kAtomic,     // kids[0], first match only
  kAssert,     // zero-width position test
  kGrapheme,   // \X
  kKeep,       // \K
};

enum class AssertKind : uint8_t {
  kStartLine, kEndLine, kStartText, kEndText, kEndTextLine,
  kBoundary, kNotBoundary, kStartWord, kEndWord,
};

enum class RepeatKind : uint8_t { kGreedy, kLazy, kPossessive };

constexpr int kUnlimited = -1;

struct Node {
  Op op = Op::kSeq;
  bool ignore_case = false;
  bool full_case = false;  // with ignore_case: kString holds the full fold
  bool dot_all = false;
  bool negated = false;    // kSet
  bool behind = false;     // kLook
  bool positive = true;    // kLook
  AssertKind assert_kind = AssertKind::kStartText;
  RepeatKind repeat = RepeatKind::kGreedy;
  int min = 0, max = 0;    // kRepeat; max may be kUnlimited
  int group = 0;           // kGroup, kBackref
  std::u32string text;     // kString
  std::vector<SetItem> set_items;
  Property prop;
  std::vector<int> kids;
};

struct Program {
  std::vector<Node> nodes;
  int root = 0;
  int group_count = 0;  // capture groups are numbered 1..group_count
  // A kString every match starts with (-1: none known): search() skips the
  // start positions whose character cannot begin it.
  int first_literal = -1;
};

// Parses `pattern` with the given ParseFlags; throws fid::Error when invalid.
Program parse_pattern(std::u32string_view pattern, unsigned flags);

// True when a single code point at text[pos] matches a one-character node
// (kAny, kSet, kProp, or a kString of one character without full case).
bool matches_char(const Node& n, char32_t c);

}  // namespace fid::text::regex_detail
