// Reading, escapes, names and node building for PyRegex's parser, after
// parse_escape / parse_name of the `regex` module's _regex_core.py (sets and
// properties: py_regex_sets.cpp).
#include "text/py_regex_syntax.h"

#include <utf8proc.h>

#include <algorithm>

#include "common/error.h"
#include "text/unicode.h"

namespace fid::text::regex_detail {
namespace {

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_octal(char32_t c) { return c >= '0' && c <= '7'; }
bool is_hex(char32_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool SyntaxParser::get(char32_t& ch) {
  if (flags_ & kVerbose) {
    while (pos_ < pat_.size()) {
      if (is_python_space(pat_[pos_])) {
        ++pos_;
      } else if (pat_[pos_] == '#') {
        while (pos_ < pat_.size() && pat_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }
  return get_raw(ch);
}

bool SyntaxParser::get_raw(char32_t& ch) {
  if (pos_ >= pat_.size()) return false;
  ch = pat_[pos_++];
  return true;
}

bool SyntaxParser::match(char32_t ch) {
  const size_t saved = pos_;
  char32_t c;
  if (get(c) && c == ch) return true;
  pos_ = saved;
  return false;
}

void SyntaxParser::expect(char32_t ch) {
  if (!match(ch)) fail(std::string("missing ") + static_cast<char>(ch));
}

bool SyntaxParser::at_end() {
  const size_t saved = pos_;
  char32_t c;
  const bool end = !get(c);
  pos_ = saved;
  return end;
}

std::u32string SyntaxParser::get_while_digits() {
  std::u32string out;
  while (pos_ < pat_.size() && is_digit(pat_[pos_])) out.push_back(pat_[pos_++]);
  return out;
}

int SyntaxParser::to_count(const std::u32string& digits, size_t at) {
  long long v = 0;
  for (char32_t c : digits) {
    v = v * 10 + (c - '0');
    if (v >= 0x7FFFFFFF) fail("repeat count too big", at);
  }
  return static_cast<int>(v);
}

void SyntaxParser::fail(const std::string& message, size_t at) {
  FID_THROW("invalid regex pattern '", utf8_encode(pat_), "': ", message, " at position ", at);
}

void SyntaxParser::unsupported(const std::string& feature, size_t at) {
  FID_THROW("regex pattern '", utf8_encode(pat_), "' uses ", feature, " (at position ", at,
            "), which this engine does not support");
}

int SyntaxParser::add(Op op) {
  prog_.nodes.emplace_back();
  prog_.nodes.back().op = op;
  return static_cast<int>(prog_.nodes.size()) - 1;
}

int SyntaxParser::add_assert(AssertKind kind) {
  int n = add(Op::kAssert);
  prog_.nodes[n].assert_kind = kind;
  return n;
}

int SyntaxParser::add_literal(char32_t ch) {
  int n = add(Op::kString);
  Node& node = prog_.nodes[n];
  node.ignore_case = ignore_case();
  node.full_case = full_case();
  // Under FULLCASE the literal is kept folded: the matcher folds the text alike.
  if (node.full_case) {
    full_fold(ch, node.text);
  } else {
    node.text.push_back(ch);
  }
  return n;
}

int SyntaxParser::wrap(Op op, int kid) {
  int n = add(op);
  prog_.nodes[n].kids = {kid};
  return n;
}

int SyntaxParser::add_backref(const std::u32string& name, size_t at) {
  int number = -1;
  if (!name.empty() && std::all_of(name.begin(), name.end(), is_digit)) {
    number = to_count(name, at);
  } else {
    for (const auto& [n, g] : names_)
      if (n == name) number = g;
  }
  if (std::find(open_.begin(), open_.end(), number) != open_.end())
    fail("cannot refer to an open group", at);
  int n = add(Op::kBackref);
  prog_.nodes[n].ignore_case = ignore_case();
  prog_.nodes[n].full_case = full_case();
  pending_refs_.emplace_back(n, name);
  pending_ref_pos_.push_back(at);
  return n;
}

void SyntaxParser::resolve_backrefs() {
  for (size_t i = 0; i < pending_refs_.size(); ++i) {
    const auto& [node, name] = pending_refs_[i];
    int number = -1;
    if (std::all_of(name.begin(), name.end(), is_digit)) {
      number = to_count(name, pending_ref_pos_[i]);
    } else {
      for (const auto& [n, g] : names_)
        if (n == name) number = g;
      if (number < 0) fail("unknown group", pending_ref_pos_[i]);
    }
    if (number < 1 || number > prog_.group_count) fail("invalid group reference", pending_ref_pos_[i]);
    prog_.nodes[node].group = number;
  }
}

int SyntaxParser::make_sequence(const std::vector<int>& items) {
  std::vector<int> kids;
  for (int item : items) {
    if (item < 0) continue;
    const Node& cur = prog_.nodes[item];
    if (!kids.empty() && cur.op == Op::kString) {
      Node& prev = prog_.nodes[kids.back()];
      if (prev.op == Op::kString && prev.ignore_case == cur.ignore_case &&
          prev.full_case == cur.full_case) {
        prev.text += cur.text;  // `cur` is left unreferenced
        continue;
      }
    }
    kids.push_back(item);
  }
  if (kids.size() == 1) return kids[0];
  int n = add(Op::kSeq);
  prog_.nodes[n].kids = std::move(kids);
  return n;
}

bool SyntaxParser::is_empty(int node) const {
  const Node& n = prog_.nodes[node];
  switch (n.op) {
    case Op::kSeq:
    case Op::kAlt:
      return std::all_of(n.kids.begin(), n.kids.end(), [&](int k) { return is_empty(k); });
    case Op::kAtomic:
    case Op::kRepeat: return is_empty(n.kids[0]);
    case Op::kLook: return n.positive && is_empty(n.kids[0]);
    default: return false;
  }
}

int SyntaxParser::escape_node() {
  Escape e = parse_escape(false);
  if (e.kind == Escape::kNode) return e.node;
  if (e.kind == Escape::kChar) return add_literal(e.ch);
  int n = add(Op::kProp);
  prog_.nodes[n].prop = e.prop;
  prog_.nodes[n].ignore_case = ignore_case();
  return n;
}

SyntaxParser::Escape SyntaxParser::parse_escape(bool in_set) {
  Escape e;
  char32_t ch;
  if (!get_raw(ch)) fail("bad escape (end of pattern)");
  auto node = [&](int n) {
    e.kind = Escape::kNode;
    e.node = n;
    return e;
  };
  auto prop = [&](PropKind kind, uint32_t value, bool positive) {
    e.kind = Escape::kProp;
    e.prop = Property{kind, value, positive};
    return e;
  };
  auto character = [&](char32_t c) {
    e.kind = Escape::kChar;
    e.ch = c;
    return e;
  };
  if (ch == 'x') return character(parse_hex('x', 2));
  if (ch == 'u') return character(parse_hex('u', 4));
  if (ch == 'U') return character(parse_hex('U', 8));
  if (ch == 'g' && !in_set) {
    // \g<name>; anything else (even a reference to an open group) is a literal 'g'.
    const size_t saved = pos_;
    try {
      expect(U'<');
      const size_t at = pos_;
      std::u32string name = parse_name(true);
      expect(U'>');
      return node(add_backref(name, at));
    } catch (const fid::Error&) {
      pos_ = saved;
      return character('g');
    }
  }
  if (ch == 'G' && !in_set) return node(add_assert(AssertKind::kStartText));  // search start: 0
  if (ch == 'L' && !in_set) fail("undefined named list");
  if (ch == 'N') unsupported("named characters \\N{...}");
  if (ch == 'p' || ch == 'P') {
    if (parse_property(ch == 'p', e.prop)) {
      e.kind = Escape::kProp;
      return e;
    }
    return character(ch);
  }
  if (ch == 'X' && !in_set) return node(add(Op::kGrapheme));
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
    if (!in_set) {
      switch (ch) {
        case 'A': return node(add_assert(AssertKind::kStartText));
        case 'b': return node(add_assert(AssertKind::kBoundary));
        case 'B': return node(add_assert(AssertKind::kNotBoundary));
        case 'K': return node(add(Op::kKeep));
        case 'm': return node(add_assert(AssertKind::kStartWord));
        case 'M': return node(add_assert(AssertKind::kEndWord));
        case 'Z': return node(add_assert(AssertKind::kEndText));
        default: break;
      }
    }
    const uint32_t nd = 1u << UTF8PROC_CATEGORY_ND;  // \d is Digit: gc=Nd
    switch (ch) {
      case 'd': return prop(PropKind::kCategoryMask, nd, true);
      case 'D': return prop(PropKind::kCategoryMask, nd, false);
      case 'h': return prop(PropKind::kBlank, 0, true);
      case 's': return prop(PropKind::kWhiteSpace, 0, true);
      case 'S': return prop(PropKind::kWhiteSpace, 0, false);
      case 'w': return prop(PropKind::kWord, 0, true);
      case 'W': return prop(PropKind::kWord, 0, false);
      case 'a': return character(7);
      case 'b': return character(8);
      case 'f': return character(12);
      case 'n': return character(10);
      case 'r': return character(13);
      case 't': return character(9);
      case 'v': return character(11);
      default: fail(std::string("bad escape \\") + static_cast<char>(ch));
    }
  }
  if (is_digit(ch)) return parse_numeric_escape(ch, in_set);
  return character(ch);
}

SyntaxParser::Escape SyntaxParser::parse_numeric_escape(char32_t first, bool in_set) {
  Escape e;
  e.kind = Escape::kChar;
  if (in_set || first == '0') {
    if (!is_octal(first)) fail(std::string("bad escape \\") + static_cast<char>(first));
    uint32_t value = first - '0';
    for (int n = 1; n < 3 && pos_ < pat_.size() && is_octal(pat_[pos_]); ++n)
      value = value * 8 + (pat_[pos_++] - '0');
    e.ch = value;
    return e;
  }
  // One or two digits are a group number; three octal digits a character.
  std::u32string digits(1, first);
  const size_t at = pos_;
  if (pos_ < pat_.size() && is_digit(pat_[pos_])) {
    digits.push_back(pat_[pos_++]);
    if (is_octal(digits[0]) && is_octal(digits[1]) && pos_ < pat_.size() && is_octal(pat_[pos_])) {
      e.ch = ((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (pat_[pos_++] - '0')) & 0x1FF;
      return e;
    }
  }
  e.kind = Escape::kNode;
  e.node = add_backref(digits, at);
  return e;
}

char32_t SyntaxParser::parse_hex(char32_t kind, int digits) {
  const size_t saved = pos_;
  std::string seen;
  uint32_t value = 0;
  for (int i = 0; i < digits; ++i) {
    if (pos_ >= pat_.size() || !is_hex(pat_[pos_]))
      fail(std::string("incomplete escape \\") + static_cast<char>(kind) + seen, saved);
    char32_t c = pat_[pos_++];
    seen.push_back(static_cast<char>(c));
    value = value * 16 + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  if (value >= 0x110000) fail(std::string("bad hex escape \\") + static_cast<char>(kind) + seen, saved);
  return value;
}

std::u32string SyntaxParser::parse_name(bool allow_numeric) {
  std::u32string name;
  while (pos_ < pat_.size() && pat_[pos_] != ')' && pat_[pos_] != '>') name.push_back(pat_[pos_++]);
  if (name.empty()) fail("missing group name");
  if (std::all_of(name.begin(), name.end(), is_digit)) {
    if (!allow_numeric || name.find_first_not_of(U'0') == std::u32string::npos)
      fail("bad character in group name");
    return name;
  }
  // str.isidentifier(), approximately: a letter or '_', then word characters.
  bool ok = is_letter(name[0]) || name[0] == '_';
  for (char32_t c : name) ok = ok && is_regex_word(c);
  if (!ok) fail("bad character in group name");
  return name;
}

int SyntaxParser::open_group(const std::u32string& name) {
  int number = -1;
  for (const auto& [n, g] : names_)
    if (!name.empty() && n == name) number = g;  // a repeated name is the same group
  if (number < 0) {
    number = ++prog_.group_count;
    if (!name.empty()) names_.emplace_back(name, number);
  }
  open_.push_back(number);
  return number;
}

unsigned SyntaxParser::parse_flag_set() {
  unsigned flags = 0;
  for (;;) {
    const size_t saved = pos_;
    char32_t ch;
    if (!get(ch)) break;
    unsigned f = 0;
    switch (ch) {
      case 'a': f = kAscii; break;
      case 'b': f = kBestMatch; break;
      case 'e': f = kEnhanceMatch; break;
      case 'f': f = kFullCase; break;
      case 'i': f = kIgnoreCase; break;
      case 'L': f = kLocale; break;
      case 'm': f = kMultiline; break;
      case 'p': f = kPosix; break;
      case 'r': f = kReverse; break;
      case 's': f = kDotAll; break;
      case 'u': f = kUnicode; break;
      case 'w': f = kWordFlag; break;
      case 'x': f = kVerbose; break;
      case 'V': {
        char32_t v;
        if (get(v) && (v == '0' || v == '1')) f = v == '0' ? kVersion0 : kVersion1;
        break;
      }
      default: break;
    }
    if (f == 0) {
      pos_ = saved;
      break;
    }
    flags |= f;
  }
  return flags;
}

}  // namespace fid::text::regex_detail
