// Character sets and properties for PyRegex's parser, after parse_set,
// parse_property and parse_posix_class of the `regex` module's _regex_core.py
// (version 0: no set operations, a ']' first in a set is a member).
#include <string>

#include "text/py_regex_syntax.h"

namespace fid::text::regex_detail {
namespace {

bool is_ascii_alnum(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// PROPERTY_NAME_PART, plus '/' after a ':' or '=' (numeric values such as 1/2).
bool is_property_char(char32_t c, bool value) {
  return is_ascii_alnum(c) || c == ' ' || c == '&' || c == '_' || c == '-' || c == '.' ||
         (value && c == '/');
}

std::u32string strip_spaces(std::u32string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

}  // namespace

bool SyntaxParser::parse_property(bool positive, Property& out) {
  const size_t saved = pos_;
  char32_t ch;
  if (!get_raw(ch)) return false;
  if (ch == '{') {
    const bool negate = pos_ < pat_.size() && pat_[pos_] == '^' && ++pos_;
    std::u32string name, value;
    while (pos_ < pat_.size() && is_property_char(pat_[pos_], false)) name.push_back(pat_[pos_++]);
    std::u32string prop_name;
    const size_t after_name = pos_;
    if (pos_ < pat_.size() && (pat_[pos_] == ':' || pat_[pos_] == '=')) {
      ++pos_;
      while (pos_ < pat_.size() && is_property_char(pat_[pos_], true)) value.push_back(pat_[pos_++]);
      value = strip_spaces(value);
      if (value.empty()) {
        pos_ = after_name;  // no value after ':' or '=': an unqualified name
      } else {
        prop_name = name;
        name = value;
      }
    }
    if (pos_ < pat_.size() && pat_[pos_] == '}') {
      ++pos_;
      if (!lookup_property(prop_name, name, false, out)) fail("unknown property");
      if (positive == negate) out.positive = !out.positive;
      return true;
    }
  } else if (std::u32string_view(U"CLMNPSZ").find(ch) != std::u32string_view::npos) {
    if (!lookup_property(U"", std::u32string(1, ch), false, out)) fail("unknown property");
    if (!positive) out.positive = !out.positive;
    return true;
  }
  pos_ = saved;  // not a property: a literal 'p' or 'P'
  return false;
}

bool SyntaxParser::parse_posix_class(Property& out) {
  const bool negate = pos_ < pat_.size() && pat_[pos_] == '^' && ++pos_;
  std::u32string name;
  while (pos_ < pat_.size() && is_property_char(pat_[pos_], false)) name.push_back(pat_[pos_++]);
  std::u32string prop_name;
  if (pos_ < pat_.size() && (pat_[pos_] == '=' || pat_[pos_] == ':') && pos_ + 1 < pat_.size() &&
      pat_[pos_ + 1] != ']') {
    ++pos_;
    prop_name = name;
    name.clear();
    while (pos_ < pat_.size() && is_property_char(pat_[pos_], true)) name.push_back(pat_[pos_++]);
  }
  if (pat_.substr(pos_, 2) != U":]") return false;
  pos_ += 2;
  if (!lookup_property(prop_name, name, true, out)) fail("unknown property");
  if (negate) out.positive = !out.positive;
  return true;
}

int SyntaxParser::parse_set() {
  const bool negate = pos_ < pat_.size() && pat_[pos_] == '^' && ++pos_;
  std::vector<SetItem> items;
  parse_set_member(items);  // a ']' first is a member
  while (pos_ >= pat_.size() || pat_[pos_] != ']') parse_set_member(items);
  ++pos_;
  int n = add(Op::kSet);
  prog_.nodes[n].set_items = std::move(items);
  prog_.nodes[n].negated = negate;
  prog_.nodes[n].ignore_case = ignore_case();
  return n;
}

void SyntaxParser::parse_set_member(std::vector<SetItem>& items) {
  SetItem start;
  if (!parse_set_item(start)) fail("unterminated character set");
  if (start.kind != SetItem::kChar || pos_ >= pat_.size() || pat_[pos_] != '-') {
    items.push_back(start);
    return;
  }
  ++pos_;
  SetItem dash;
  dash.lo = dash.hi = '-';
  if (pos_ < pat_.size() && pat_[pos_] == ']') {  // a '-' just before the ']' is literal
    items.push_back(start);
    items.push_back(dash);
    return;
  }
  SetItem end;
  if (!parse_set_item(end)) fail("unterminated character set");
  if (end.kind != SetItem::kChar) {
    items.insert(items.end(), {start, dash, end});
    return;
  }
  if (start.lo > end.lo) fail("bad character range");
  start.kind = SetItem::kRange;
  start.hi = end.lo;
  items.push_back(start);
}

bool SyntaxParser::parse_set_item(SetItem& item) {
  if (pos_ < pat_.size() && pat_[pos_] == '\\') {
    ++pos_;
    Escape e = parse_escape(true);
    if (e.kind == Escape::kProp) {
      item.kind = SetItem::kProp;
      item.prop = e.prop;
    } else {
      item.lo = item.hi = e.ch;
    }
    return true;
  }
  if (pat_.substr(pos_, 2) == U"[:") {
    const size_t saved = pos_;
    pos_ += 2;
    if (parse_posix_class(item.prop)) {
      item.kind = SetItem::kProp;
      return true;
    }
    pos_ = saved;
  }
  char32_t ch;
  if (!get_raw(ch)) return false;
  item.lo = item.hi = ch;
  return true;
}

}  // namespace fid::text::regex_detail
