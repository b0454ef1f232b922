// The parser of PyRegex: a recursive descent that follows the `regex`
// module's _regex_core.py (version 0 behaviour), so that the same patterns
// compile, the same ones fail, and the error messages read alike ("missing )
// at position 9"). Features the matcher lacks are refused here with an
// "unsupported" error rather than silently matched differently.
#include <string>

#include "common/error.h"
#include "text/py_regex_impl.h"
#include "text/py_regex_syntax.h"
#include "text/unicode.h"

namespace fid::text::regex_detail {
namespace {

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Version 0: a positional flag such as (?s) applies to the whole pattern, so
// finding a new one restarts the parse with it (the module's _UnscopedFlagSet).
struct RestartWithFlags {
  unsigned flags;
};

class Parser : public SyntaxParser {
 public:
  Parser(std::u32string_view pattern, unsigned flags) : SyntaxParser(pattern, flags) {}

  Program run() {
    prog_.root = parse_alternation();
    if (!at_end()) fail("unbalanced parenthesis");
    resolve_backrefs();
    return std::move(prog_);
  }

 private:
  int parse_alternation() {
    std::vector<int> branches{parse_sequence()};
    while (match(U'|')) branches.push_back(parse_sequence());
    if (branches.size() == 1) return branches[0];
    int n = add(Op::kAlt);
    prog_.nodes[n].kids = std::move(branches);
    return n;
  }

  int parse_sequence() {
    // -1 marks "nothing to repeat": the start, and after each quantifier.
    std::vector<int> items{-1};
    for (;;) {
      const size_t saved = pos_;
      char32_t ch;
      if (!get(ch)) break;
      if (ch == ')' || ch == '|') {
        pos_ = saved;
        break;
      }
      if (ch == '\\') {
        items.push_back(escape_node());
      } else if (ch == '(') {
        int n = parse_paren();
        if (n >= 0) items.push_back(n);
      } else if (ch == '.') {
        int n = add(Op::kAny);
        prog_.nodes[n].dot_all = (flags_ & kDotAll) != 0;
        items.push_back(n);
      } else if (ch == '[') {
        items.push_back(parse_set());
      } else if (ch == '^') {
        items.push_back(add_assert(flags_ & kMultiline ? AssertKind::kStartLine : AssertKind::kStartText));
      } else if (ch == '$') {
        items.push_back(add_assert(flags_ & kMultiline ? AssertKind::kEndLine : AssertKind::kEndTextLine));
      } else if (ch == '?' || ch == '*' || ch == '+' || ch == '{') {
        int min = 0, max = 0;
        if (parse_quantifier(ch, min, max)) {
          apply_quantifier(items, min, max, saved);
          items.push_back(-1);
        } else {
          if (looks_fuzzy()) unsupported("fuzzy matching");
          items.push_back(add_literal(ch));
        }
      } else {
        items.push_back(add_literal(ch));
      }
    }
    return make_sequence(items);
  }

  void apply_quantifier(std::vector<int>& items, int min, int max, size_t at) {
    int element = items.back();
    items.pop_back();
    if (element < 0) fail(items.empty() ? "nothing to repeat" : "multiple repeat", at);
    RepeatKind kind = RepeatKind::kGreedy;
    const size_t saved = pos_;
    char32_t ch = 0;
    const bool got = get(ch);
    if (got && ch == '?') {
      kind = RepeatKind::kLazy;
    } else if (got && ch == '+') {
      kind = RepeatKind::kPossessive;
    } else {
      pos_ = saved;
    }
    // As the module does: a quantifier on an empty item, or {1}, is dropped.
    if (!is_empty(element) && (min != 1 || max != 1)) {
      int n = add(Op::kRepeat);
      Node& r = prog_.nodes[n];
      r.min = min;
      r.max = max;
      r.repeat = kind;
      r.kids = {element};
      element = n;
    }
    items.push_back(element);
  }

  bool parse_quantifier(char32_t ch, int& min, int& max) {
    if (ch == '?') return min = 0, max = 1, true;
    if (ch == '*') return min = 0, max = kUnlimited, true;
    if (ch == '+') return min = 1, max = kUnlimited, true;
    const size_t saved = pos_;
    std::u32string lo = get_while_digits();
    std::u32string hi;
    bool comma = match(U',');
    if (comma) hi = get_while_digits();
    if ((!comma && lo.empty()) || !match(U'}')) {
      pos_ = saved;
      return false;
    }
    min = lo.empty() ? 0 : to_count(lo, saved);
    max = comma ? (hi.empty() ? kUnlimited : to_count(hi, saved)) : min;
    if (max != kUnlimited && min > max) fail("min repeat greater than max repeat", saved);
    return true;
  }

  // A '{' that is not a repeat: the module tries a fuzzy constraint next
  // ({e<=1}, {1<=s<3}, {2i+2d<=4}); once one of the letters d e i s starts an
  // item the pattern is fuzzy or an error, never a literal '{'.
  bool looks_fuzzy() const {
    auto is_constraint = [](char32_t c) { return c == 'd' || c == 'e' || c == 'i' || c == 's'; };
    size_t i = pos_;
    if (i < pat_.size() && is_constraint(pat_[i])) return true;
    while (i < pat_.size() && is_digit(pat_[i])) ++i;
    return i > pos_ && i < pat_.size() && (pat_[i] == '<' || is_constraint(pat_[i]));
  }

  int parse_paren() {
    const size_t start = pos_;
    char32_t ch = 0;
    if (get_raw(ch) && ch == '?') {
      const size_t after_q = pos_;
      if (!get_raw(ch)) fail("unknown extension");
      if (ch == '<') {
        const size_t saved = pos_;
        char32_t c2;
        if (get(c2) && (c2 == '=' || c2 == '!')) return parse_lookaround(true, c2 == '=');
        pos_ = saved;
        std::u32string name = parse_name(false);
        expect(U'>');
        return parse_group(name);
      }
      if (ch == '=' || ch == '!') return parse_lookaround(false, ch == '=');
      if (ch == 'P') return parse_python_extension();
      if (ch == '#') return parse_comment();
      if (ch == '>') return wrap(Op::kAtomic, parse_scoped(flags_));
      if (ch == '|') return parse_branch_reset();
      if (ch == '(') unsupported("conditional patterns", start);
      if (ch == 'R' || is_digit(ch) || ch == '&') unsupported("group calls and recursion", start);
      pos_ = after_q;
      return parse_flags_subpattern();
    }
    if (pos_ > start && ch == '*') {
      std::u32string word;
      while (pos_ < pat_.size() && pat_[pos_] != ')' && pat_[pos_] != '>') word += pat_[pos_++];
      if (!word.empty() && is_ascii_alpha(word[0])) unsupported("control verbs", start);
    }
    pos_ = start;
    return parse_group(U"");
  }

  int parse_group(const std::u32string& name) {
    int number = open_group(name);
    int sub = parse_scoped(flags_);
    close_group();
    int n = wrap(Op::kGroup, sub);
    prog_.nodes[n].group = number;
    return n;
  }

  // Parses up to the closing ')' with `flags`, restoring the outer flags.
  int parse_scoped(unsigned flags) {
    const unsigned saved = flags_;
    flags_ = flags;
    int sub = parse_alternation();
    expect(U')');
    flags_ = saved;
    return sub;
  }

  int parse_lookaround(bool behind, bool positive) {
    int n = wrap(Op::kLook, parse_scoped(flags_));
    prog_.nodes[n].behind = behind;
    prog_.nodes[n].positive = positive;
    return n;
  }

  int parse_python_extension() {
    const size_t saved = pos_;
    char32_t ch;
    if (!get(ch)) fail("unknown extension", saved);
    if (ch == '<') {
      std::u32string name = parse_name(false);
      expect(U'>');
      return parse_group(name);
    }
    if (ch == '=') {
      std::u32string name = parse_name(true);
      expect(U')');
      return add_backref(name, saved);
    }
    if (ch == '>' || ch == '&') unsupported("group calls", saved);
    fail("unknown extension", saved);
  }

  int parse_comment() {
    char32_t c;
    for (;;) {
      const size_t saved = pos_;
      if (!get_raw(c) || c == ')') {
        pos_ = saved;
        break;
      }
      if (c == '\\') get_raw(c);
    }
    expect(U')');
    return -1;
  }

  int parse_branch_reset() {
    const int initial = prog_.group_count;
    std::vector<int> branches{parse_sequence()};
    int final_count = prog_.group_count;
    while (match(U'|')) {
      prog_.group_count = initial;
      branches.push_back(parse_sequence());
      final_count = std::max(final_count, prog_.group_count);
    }
    prog_.group_count = final_count;
    expect(U')');
    if (branches.size() == 1) return branches[0];
    int n = add(Op::kAlt);
    prog_.nodes[n].kids = std::move(branches);
    return n;
  }

  int parse_flags_subpattern() {
    unsigned on = parse_flag_set(), off = 0;
    if (match(U'-')) {
      off = parse_flag_set();
      if (off == 0) fail("bad inline flags: no flags after '-'");
    }
    if (off & kGlobalFlags) fail("bad inline flags: cannot turn off global flag");
    if (on & off) fail("bad inline flags: flag turned on and off");
    if (on & kVersion1) unsupported("version 1 behaviour (?V1)");
    if ((on | off) & kUnsupportedFlags) unsupported("the flags a, L, w, p and r");
    on &= ~kGlobalFlags;
    if (match(U':')) return parse_scoped((flags_ | on) & ~off);
    if (match(U')')) {
      // Version 0: positional flags are global and can only be turned on.
      if (off != 0) fail("bad inline flags: cannot turn flags off");
      if ((on & ~global_flags_) != 0) throw RestartWithFlags{global_flags_ | on};
      return -1;
    }
    fail("unknown extension");
  }
};

}  // namespace

Program parse_pattern(std::u32string_view pattern, unsigned flags) {
  for (int attempt = 0;; ++attempt) {
    try {
      return Parser(pattern, flags).run();
    } catch (const RestartWithFlags& r) {
      FID_CHECK(attempt < 8, "regex: inline flags keep changing while parsing the pattern");
      flags = r.flags;
    }
  }
}

}  // namespace fid::text::regex_detail
