// PyRegex's matcher: backtracking in continuation-passing style. Each node
// is matched at a position and, for every way it can match, calls the
// continuation with the end position; the first continuation that returns
// true wins, which gives the `regex` module's leftmost, first-alternative
// match. Captures are restored on the way back so that backreferences see
// the state of the path being tried.
#include <utf8proc.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "text/py_regex.h"
#include "text/py_regex_impl.h"

namespace fid::text {
namespace regex_detail {
namespace {

// Catastrophic patterns such as (a*)*b on a long run of 'a' would backtrack
// for ages: one search() may take at most kMaxSteps steps (a node tried at a
// position, or one character scanned by a simple repeat), about 10-50 ms of
// work, and nest at most kMaxDepth continuations (a repeated group adds a few
// frames per iteration; this keeps the stack under ~4 MB, below the 8 MB of a
// thread). A search that runs out counts as no match: a DPR passage (~100
// words) needs a few thousand steps for an ordinary answer pattern.
constexpr size_t kMaxSteps = 2'000'000;
constexpr size_t kMaxDepth = 4'000;
constexpr size_t kNone = std::numeric_limits<size_t>::max();

struct LimitExceeded {};

// A non-owning reference to a callable bool(size_t end): continuations live
// on the stack of the caller for the whole call.
class Cont {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Cont>>>
  Cont(const F& f)  // NOLINT: implicit on purpose, lambdas are passed directly
      : obj_(&f), fn_([](const void* o, size_t p) { return (*static_cast<const F*>(o))(p); }) {}
  bool operator()(size_t p) const { return fn_(obj_, p); }

 private:
  const void* obj_;
  bool (*fn_)(const void*, size_t);
};

bool chars_equal(char32_t a, char32_t b, bool ignore_case) {
  return a == b || (ignore_case && same_char_ignore_case(a, b));
}

bool set_contains(const Node& n, char32_t c, bool ignore_case) {
  for (const SetItem& item : n.set_items) {
    if (item.kind == SetItem::kProp ? has_property(item.prop, c, ignore_case)
                                    : c >= item.lo && c <= item.hi)
      return true;
  }
  return false;
}

bool is_single_char(const Node& n) {
  return n.op == Op::kAny || n.op == Op::kSet || n.op == Op::kProp ||
         (n.op == Op::kString && n.text.size() == 1 && !n.full_case);
}

class Matcher {
 public:
  Matcher(const Program& prog, std::u32string_view text)
      : prog_(prog), text_(text), caps_(static_cast<size_t>(prog.group_count) + 1, {kNone, kNone}) {}

  RegexMatch search() {
    RegexMatch result;
    try {
      const Node* first = prog_.first_literal >= 0 ? &prog_.nodes[static_cast<size_t>(prog_.first_literal)] : nullptr;
      for (size_t start = 0; start <= text_.size(); ++start) {
        if (first != nullptr &&
            (start == text_.size() || !chars_equal(first->text[0], text_[start], first->ignore_case)))
          continue;
        std::fill(caps_.begin(), caps_.end(), std::pair<size_t, size_t>{kNone, kNone});
        keep_ = kNone;
        size_t end = 0;
        if (run(prog_.root, start, [&](size_t p) { return end = p, true; })) {
          result.matched = true;
          result.start = keep_ != kNone ? keep_ : start;
          result.end = end;
          return result;
        }
      }
    } catch (const LimitExceeded&) {
      return RegexMatch{};
    }
    return result;
  }

 private:
  void step() {
    if (++steps_ > kMaxSteps) throw LimitExceeded{};
  }

  bool word_at(size_t i) const { return i < text_.size() && is_word_char(text_[i]); }
  bool word_before(size_t pos) const { return pos > 0 && word_at(pos - 1); }

  bool assertion(AssertKind kind, size_t pos) const {
    const size_t n = text_.size();
    switch (kind) {
      case AssertKind::kStartLine: return pos == 0 || text_[pos - 1] == '\n';
      case AssertKind::kEndLine: return pos == n || text_[pos] == '\n';
      case AssertKind::kStartText: return pos == 0;
      case AssertKind::kEndText: return pos == n;
      case AssertKind::kEndTextLine: return pos == n || (pos + 1 == n && text_[pos] == '\n');
      case AssertKind::kBoundary: return word_before(pos) != word_at(pos);
      case AssertKind::kNotBoundary: return word_before(pos) == word_at(pos);
      case AssertKind::kStartWord: return !word_before(pos) && word_at(pos);
      case AssertKind::kEndWord: return word_before(pos) && !word_at(pos);
    }
    return false;
  }

  // Under FULLCASE: the text from pos, folded character by character, must
  // spell `folded` exactly (ending on a character boundary). Returns the end.
  size_t match_folded(const std::u32string& folded, size_t pos) {
    size_t i = 0;
    std::u32string buf;
    while (i < folded.size()) {
      if (pos >= text_.size()) return kNone;
      buf.clear();
      full_fold(text_[pos], buf);
      if (folded.compare(i, buf.size(), buf) != 0) return kNone;
      i += buf.size();
      ++pos;
    }
    return pos;
  }

  size_t match_string(const Node& n, size_t pos) {
    if (n.full_case) return match_folded(n.text, pos);
    if (pos + n.text.size() > text_.size()) return kNone;
    for (size_t i = 0; i < n.text.size(); ++i)
      if (!chars_equal(n.text[i], text_[pos + i], n.ignore_case)) return kNone;
    return pos + n.text.size();
  }

  size_t match_backref(const Node& n, size_t pos) {
    const auto [s, e] = caps_[static_cast<size_t>(n.group)];
    if (s == kNone) return kNone;  // the group did not take part: the reference fails
    if (n.full_case) {
      std::u32string folded;
      for (size_t i = s; i < e; ++i) full_fold(text_[i], folded);
      return match_folded(folded, pos);
    }
    if (pos + (e - s) > text_.size()) return kNone;
    for (size_t i = 0; i < e - s; ++i)
      if (!chars_equal(text_[s + i], text_[pos + i], n.ignore_case)) return kNone;
    return pos + (e - s);
  }

  size_t grapheme_end(size_t pos) const {
    if (pos >= text_.size()) return kNone;
    utf8proc_int32_t state = 0;
    size_t p = pos + 1;
    while (p < text_.size() &&
           !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(text_[p - 1]),
                                             static_cast<utf8proc_int32_t>(text_[p]), &state))
      ++p;
    return p;
  }

  // Smallest and largest number of code points a node can take (max kNone: unbounded).
  std::pair<size_t, size_t> width(int id) const {
    const Node& n = prog_.nodes[id];
    auto add = [](size_t a, size_t b) { return a == kNone || b == kNone ? kNone : a + b; };
    switch (n.op) {
      case Op::kString: return {n.full_case ? 0 : n.text.size(), n.text.size()};
      case Op::kAny: case Op::kSet: case Op::kProp: return {1, 1};
      case Op::kGrapheme: return {1, kNone};
      case Op::kBackref: return {0, kNone};
      case Op::kLook: case Op::kAssert: case Op::kKeep: return {0, 0};
      case Op::kGroup: case Op::kAtomic: return width(n.kids[0]);
      case Op::kSeq: {
        std::pair<size_t, size_t> w{0, 0};
        for (int k : n.kids) {
          auto kw = width(k);
          w = {w.first + kw.first, add(w.second, kw.second)};
        }
        return w;
      }
      case Op::kAlt: {
        std::pair<size_t, size_t> w{kNone, 0};
        for (int k : n.kids) {
          auto kw = width(k);
          w = {std::min(w.first, kw.first), kw.second == kNone ? kNone : std::max(w.second, kw.second)};
          if (w.second == kNone) break;
        }
        return {w.first == kNone ? 0 : w.first, w.second};
      }
      case Op::kRepeat: {
        auto kw = width(n.kids[0]);
        size_t hi = n.max == kUnlimited || kw.second == kNone ? kNone : kw.second * static_cast<size_t>(n.max);
        return {kw.first * static_cast<size_t>(n.min), hi};
      }
    }
    return {0, kNone};
  }

  bool run(int id, size_t pos, Cont k) {
    step();
    if (++depth_ > kMaxDepth) throw LimitExceeded{};
    bool r = dispatch(prog_.nodes[static_cast<size_t>(id)], pos, k);
    --depth_;
    return r;
  }

  bool dispatch(const Node& n, size_t pos, Cont k) {
    switch (n.op) {
      case Op::kString: {
        size_t e = match_string(n, pos);
        return e != kNone && k(e);
      }
      case Op::kAny: case Op::kSet: case Op::kProp:
        return pos < text_.size() && matches_char(n, text_[pos]) && k(pos + 1);
      case Op::kSeq: return sequence(n, 0, pos, k);
      case Op::kAlt:
        for (int kid : n.kids)
          if (run(kid, pos, k)) return true;
        return false;
      case Op::kGroup: {
        const size_t g = static_cast<size_t>(n.group);
        return run(n.kids[0], pos, [&](size_t p) {
          const auto prev = caps_[g];
          caps_[g] = {pos, p};
          if (k(p)) return true;
          caps_[g] = prev;
          return false;
        });
      }
      case Op::kRepeat: return repeat(n, pos, k);
      case Op::kBackref: {
        size_t e = match_backref(n, pos);
        return e != kNone && k(e);
      }
      case Op::kLook: return lookaround(n, pos, k);
      case Op::kAtomic: {
        const auto saved = caps_;
        size_t end = 0;
        if (!run(n.kids[0], pos, [&](size_t p) { return end = p, true; })) return false;
        if (k(end)) return true;
        caps_ = saved;
        return false;
      }
      case Op::kAssert: return assertion(n.assert_kind, pos) && k(pos);
      case Op::kGrapheme: {
        size_t e = grapheme_end(pos);
        return e != kNone && k(e);
      }
      case Op::kKeep: {
        const size_t prev = keep_;
        keep_ = pos;
        if (k(pos)) return true;
        keep_ = prev;
        return false;
      }
    }
    return false;
  }

  bool sequence(const Node& n, size_t i, size_t pos, Cont k) {
    if (i == n.kids.size()) return k(pos);
    if (i + 1 == n.kids.size()) return run(n.kids[i], pos, k);
    return run(n.kids[i], pos, [&](size_t p) { return sequence(n, i + 1, p, k); });
  }

  bool lookaround(const Node& n, size_t pos, Cont k) {
    const auto saved = caps_;
    bool found = false;
    if (!n.behind) {
      found = run(n.kids[0], pos, [](size_t) { return true; });
    } else {
      // Variable-length lookbehind: the starts from which the body ends exactly at pos.
      const auto [lo, hi] = width(n.kids[0]);
      if (lo <= pos) {
        const size_t first = pos - lo;
        const size_t last = hi == kNone || hi > pos ? 0 : pos - hi;
        for (size_t j = first + 1; j-- > last && !found;)
          found = run(n.kids[0], j, [&](size_t p) { return p == pos; });
      }
    }
    if (found != n.positive || !n.positive) caps_ = saved;
    if (found != n.positive) return false;
    if (k(pos)) return true;
    caps_ = saved;
    return false;
  }

  bool repeat(const Node& n, size_t pos, Cont k) {
    const Node& kid = prog_.nodes[static_cast<size_t>(n.kids[0])];
    const size_t min = static_cast<size_t>(n.min);
    if (is_single_char(kid)) {
      // One character per iteration: count the run instead of recursing.
      const size_t room = text_.size() - pos;
      const size_t limit = n.max == kUnlimited ? room : std::min(room, static_cast<size_t>(n.max));
      if (n.repeat == RepeatKind::kLazy) {
        for (size_t c = 0;; ++c) {
          if (c >= min && k(pos + c)) return true;
          if (c >= limit || !matches_char(kid, text_[pos + c])) return false;
          step();
        }
      }
      size_t c = 0;
      while (c < limit && matches_char(kid, text_[pos + c])) ++c, step();
      if (c < min) return false;
      if (n.repeat == RepeatKind::kPossessive) return k(pos + c);
      for (size_t i = c + 1; i-- > min;)
        if (k(pos + i)) return true;
      return false;
    }
    if (n.repeat != RepeatKind::kPossessive) return repeat_from(n, 0, pos, k);
    const auto saved = caps_;
    size_t end = 0;
    if (!repeat_from(n, 0, pos, [&](size_t p) { return end = p, true; })) return false;
    if (k(end)) return true;
    caps_ = saved;
    return false;
  }

  bool repeat_from(const Node& n, int count, size_t pos, Cont k) {
    const bool can_more = n.max == kUnlimited || count < n.max;
    auto more = [&] {
      return run(n.kids[0], pos, [&](size_t p) {
        // An iteration that matched nothing ends the loop (as in the module):
        // what follows the repeat is tried at once.
        if (p == pos && count + 1 >= n.min) return k(p);
        return repeat_from(n, count + 1, p, k);
      });
    };
    if (n.repeat == RepeatKind::kLazy) {
      if (count >= n.min && k(pos)) return true;
      return can_more && more();
    }
    if (can_more && more()) return true;
    return count >= n.min && k(pos);
  }

  const Program& prog_;
  std::u32string_view text_;
  std::vector<std::pair<size_t, size_t>> caps_;  // [start, end) per group; kNone: unset
  size_t keep_ = kNone;                          // where \K moved the match start
  size_t steps_ = 0;
  size_t depth_ = 0;
};

// The kString that starts every match of `id`, if the pattern begins with one.
int first_literal(const Program& prog, int id) {
  const Node& n = prog.nodes[static_cast<size_t>(id)];
  switch (n.op) {
    case Op::kString: return n.full_case || n.text.empty() ? -1 : id;
    case Op::kSeq: return n.kids.empty() ? -1 : first_literal(prog, n.kids[0]);
    case Op::kGroup: case Op::kAtomic: return first_literal(prog, n.kids[0]);
    case Op::kRepeat: return n.min >= 1 ? first_literal(prog, n.kids[0]) : -1;
    default: return -1;
  }
}

}  // namespace

bool matches_char(const Node& n, char32_t c) {
  switch (n.op) {
    case Op::kAny: return n.dot_all || c != '\n';
    case Op::kProp: return has_property(n.prop, c, n.ignore_case);
    case Op::kString: return chars_equal(n.text[0], c, n.ignore_case);
    case Op::kSet: {
      bool in = false;
      if (n.ignore_case) {
        char32_t variants[8];
        const int count = case_variants(c, variants);
        for (int i = 0; i < count && !in; ++i) in = set_contains(n, variants[i], true);
      } else {
        in = set_contains(n, c, false);
      }
      return in != n.negated;
    }
    default: return false;
  }
}

}  // namespace regex_detail

PyRegex::PyRegex(std::u32string_view pattern, unsigned flags)
    : program_(std::make_unique<regex_detail::Program>(regex_detail::parse_pattern(pattern, flags))) {
  program_->first_literal = regex_detail::first_literal(*program_, program_->root);
}
PyRegex::~PyRegex() = default;
PyRegex::PyRegex(PyRegex&&) noexcept = default;
PyRegex& PyRegex::operator=(PyRegex&&) noexcept = default;

RegexMatch PyRegex::search(std::u32string_view text) const {
  return regex_detail::Matcher(*program_, text).search();
}

}  // namespace fid::text
