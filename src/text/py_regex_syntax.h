// The lexical half of PyRegex's parser: reading the pattern (with VERBOSE
// whitespace skipping), escapes, character sets, group names and numbers,
// and building nodes. py_regex_parse.cpp adds the grammar on top.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/py_regex_impl.h"

namespace fid::text::regex_detail {

// Inline-only flags, above the ParseFlags bits.
enum InlineFlags : unsigned {
  kAscii = 1u << 8,
  kBestMatch = 1u << 9,
  kEnhanceMatch = 1u << 10,
  kLocale = 1u << 11,
  kPosix = 1u << 12,
  kReverse = 1u << 13,
  kUnicode = 1u << 14,
  kVersion0 = 1u << 15,
  kVersion1 = 1u << 16,
  kWordFlag = 1u << 17,
};
// The module's GLOBAL_FLAGS: they can never be turned off inline.
constexpr unsigned kGlobalFlags = kVersion0 | kVersion1 | kBestMatch | kEnhanceMatch | kPosix | kReverse;
// Flags that change matching in ways this engine does not implement.
constexpr unsigned kUnsupportedFlags = kAscii | kLocale | kWordFlag | kPosix | kReverse;

class SyntaxParser {
 protected:
  SyntaxParser(std::u32string_view pattern, unsigned flags)
      : pat_(pattern), flags_(flags), global_flags_(flags) {}

  // Reading. get() skips whitespace and '#' comments under VERBOSE; get_raw() never does.
  bool get(char32_t& ch);
  bool get_raw(char32_t& ch);
  bool match(char32_t ch);  // consumes ch when it comes next
  void expect(char32_t ch);  // "missing X" otherwise
  bool at_end();
  std::u32string get_while_digits();
  int to_count(const std::u32string& digits, size_t at);

  [[noreturn]] void fail(const std::string& message) { fail(message, pos_); }
  [[noreturn]] void fail(const std::string& message, size_t at);
  [[noreturn]] void unsupported(const std::string& feature) { unsupported(feature, pos_); }
  [[noreturn]] void unsupported(const std::string& feature, size_t at);

  // Nodes.
  int add(Op op);
  int add_assert(AssertKind kind);
  int add_literal(char32_t ch);  // a one-character kString with the current case flags
  int wrap(Op op, int kid);
  int add_backref(const std::u32string& name_or_number, size_t at);
  // A kSeq of the items (-1 entries skipped), adjacent literals merged.
  int make_sequence(const std::vector<int>& items);
  bool is_empty(int node) const;  // the module's is_empty(): quantifiers on it are dropped

  // The escape after a '\' outside a set, as a node.
  int escape_node();
  // After '[': the whole set up to its ']'.
  int parse_set();

  // Groups.
  std::u32string parse_name(bool allow_numeric);  // up to ')' or '>', then checked
  int open_group(const std::u32string& name);
  void close_group() { open_.pop_back(); }
  void resolve_backrefs();
  unsigned parse_flag_set();

  std::u32string_view pat_;
  size_t pos_ = 0;
  unsigned flags_;
  unsigned global_flags_;
  Program prog_;

 private:
  struct Escape {
    enum Kind { kChar, kProp, kNode } kind = kChar;
    char32_t ch = 0;
    Property prop;
    int node = -1;
  };
  Escape parse_escape(bool in_set);
  Escape parse_numeric_escape(char32_t first, bool in_set);
  char32_t parse_hex(char32_t kind, int digits);
  bool parse_property(bool positive, Property& out);
  bool parse_posix_class(Property& out);
  void parse_set_member(std::vector<SetItem>& items);
  bool parse_set_item(SetItem& item);  // false at the end of the pattern
  bool ignore_case() const { return (flags_ & kIgnoreCase) != 0; }
  bool full_case() const { return (flags_ & (kIgnoreCase | kFullCase)) == (kIgnoreCase | kFullCase); }

  std::vector<int> open_;                                   // numbers of the groups being parsed
  std::vector<std::pair<std::u32string, int>> names_;       // group name -> number
  std::vector<std::pair<int, std::u32string>> pending_refs_;  // backref node -> group name or number
  std::vector<size_t> pending_ref_pos_;
};

}  // namespace fid::text::regex_detail
