#include "text/metrics.h"

#include <algorithm>
#include <map>
#include <atomic>
#include <thread>

#include "common/error.h"
#include "text/py_regex.h"
#include "text/unicode.h"

namespace fid::text {
namespace {

bool is_ascii_punctuation(char32_t c) {  // Python's string.punctuation
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

// Length of the article (a, an, the: tried in that order, as the regex
// alternation does) that matches at i with a word boundary after it; 0 if none.
size_t article_at(const std::u32string& s, size_t i) {
  auto boundary_after = [&](size_t j) { return j == s.size() || !is_regex_word(s[j]); };
  auto has = [&](const char32_t* w, size_t n) {
    return i + n <= s.size() && std::equal(w, w + n, s.begin() + static_cast<std::ptrdiff_t>(i));
  };
  if (has(U"a", 1) && boundary_after(i + 1)) return 1;
  if (has(U"an", 2) && boundary_after(i + 2)) return 2;
  if (has(U"the", 3) && boundary_after(i + 3)) return 3;
  return 0;
}

}  // namespace

std::string normalize_answer(std::string_view s) {
  std::u32string lowered;
  python_lower(utf8_decode(s), lowered);
  std::u32string no_punct;
  no_punct.reserve(lowered.size());
  for (char32_t c : lowered)
    if (!is_ascii_punctuation(c)) no_punct.push_back(c);
  // Articles: the \b before them is checked on the text as it was before
  // any replacement, as regex.sub does.
  std::u32string no_articles;
  no_articles.reserve(no_punct.size());
  for (size_t i = 0; i < no_punct.size();) {
    bool boundary_before = i == 0 || !is_regex_word(no_punct[i - 1]);
    size_t n = boundary_before ? article_at(no_punct, i) : 0;
    if (n > 0) {
      no_articles.push_back(U' ');
      i += n;
    } else {
      no_articles.push_back(no_punct[i++]);
    }
  }
  std::string out;
  bool pending_space = false;
  for (char32_t c : no_articles) {
    if (is_python_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    utf8_append(out, c);
  }
  return out;
}

bool exact_match(std::string_view prediction, std::string_view ground_truth) {
  return normalize_answer(prediction) == normalize_answer(ground_truth);
}

bool ems(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  FID_CHECK(!ground_truths.empty(), "exact match needs at least one gold answer (the example has none)");
  std::string p = normalize_answer(prediction);
  for (const std::string& gt : ground_truths)
    if (normalize_answer(gt) == p) return true;
  return false;
}

double f1(std::string_view prediction, std::string_view ground_truth) {
  auto tokens = [](const std::string& s) {
    std::map<std::string, int64_t> counts;
    int64_t n = 0;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && s[i] == ' ') ++i;
      size_t j = i;
      while (j < s.size() && s[j] != ' ') ++j;
      if (j > i) {
        ++counts[s.substr(i, j - i)];
        ++n;
      }
      i = j;
    }
    return std::make_pair(counts, n);
  };
  // normalize_answer already collapsed whitespace to single spaces.
  const auto [p, np] = tokens(normalize_answer(prediction));
  const auto [g, ng] = tokens(normalize_answer(ground_truth));
  int64_t same = 0;
  for (const auto& [t, c] : p) {
    auto it = g.find(t);
    if (it != g.end()) same += std::min(c, it->second);
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(np);
  const double recall = static_cast<double>(same) / static_cast<double>(ng);
  return 2 * precision * recall / (precision + recall);
}

double f1_score(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  FID_CHECK(!ground_truths.empty(), "F1 needs at least one gold answer (the example has none)");
  double best = 0.0;
  for (const std::string& gt : ground_truths) best = std::max(best, f1(prediction, gt));
  return best;
}

void simple_tokenize(std::u32string_view text, bool uncased, std::vector<std::u32string>& out) {
  auto alnum = [](char32_t c) {
    if (c < 128) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return is_letter(c) || is_number(c) || is_mark(c);
  };
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    if (alnum(text[i])) {
      while (j < text.size() && alnum(text[j])) ++j;
    } else if (text[i] < 128 ? (text[i] > 0x20 && text[i] < 0x7F)
                             : !(is_separator(text[i]) || is_other(text[i]))) {
      j = i + 1;
    } else {
      ++i;
      continue;
    }
    std::u32string_view tok = text.substr(i, j - i);
    if (uncased) {
      std::u32string lowered;
      python_lower(tok, lowered);  // per token, as the reference lowers each match
      out.push_back(std::move(lowered));
    } else {
      out.emplace_back(tok);
    }
    i = j;
  }
}

std::vector<std::string> simple_tokenize(std::string_view text, bool uncased) {
  std::vector<std::u32string> tokens;
  simple_tokenize(utf8_decode(text), uncased, tokens);
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(utf8_encode(t));
  return out;
}

std::string nfd_normalize(std::string_view text) {
  std::u32string d;
  nfd(utf8_decode(text), d);
  return utf8_encode(d);
}

namespace {
void nfd_tokens(std::string_view text, std::vector<std::u32string>& out) {
  thread_local std::u32string decoded, decomposed;
  decoded.clear();
  decomposed.clear();
  utf8_decode(text, decoded);
  nfd(decoded, decomposed);
  out.clear();
  simple_tokenize(decomposed, true, out);
}
}  // namespace

AnswerMatcher::AnswerMatcher(const std::vector<std::string>& answers) {
  for (const std::string& a : answers) {
    answers_.emplace_back();
    nfd_tokens(a, answers_.back());
  }
}

namespace {

bool is_ascii(std::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

// found_in for ASCII text, without a string per token: NFD leaves ASCII as
// it is, so the tokens are simple_tokenize's (runs of letters and digits,
// single printable others) lowered in place, compared as spans.
bool found_in_ascii(const std::vector<std::vector<std::u32string>>& answers, std::string_view text) {
  thread_local std::string lowered;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> spans;  // (begin, length) in `lowered`
  lowered.assign(text);
  spans.clear();
  auto alnum = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); };
  for (char& c : lowered)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (size_t i = 0; i < lowered.size();) {
    size_t j = i + 1;
    if (alnum(lowered[i])) {
      while (j < lowered.size() && alnum(lowered[j])) ++j;
    } else if (!(lowered[i] > 0x20 && lowered[i] < 0x7F)) {
      ++i;
      continue;
    }
    spans.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(j - i));
    i = j;
  }
  auto same = [](const std::u32string& a, std::string_view t) {
    if (a.size() != t.size()) return false;
    for (size_t k = 0; k < a.size(); ++k)
      if (a[k] != static_cast<char32_t>(static_cast<unsigned char>(t[k]))) return false;
    return true;
  };
  const std::string_view all(lowered);
  for (const auto& answer : answers) {
    if (answer.size() > spans.size()) continue;
    for (size_t i = 0; i + answer.size() <= spans.size(); ++i) {
      size_t k = 0;
      while (k < answer.size() && same(answer[k], all.substr(spans[i + k].first, spans[i + k].second))) ++k;
      if (k == answer.size()) return true;
    }
  }
  return false;
}

}  // namespace

bool AnswerMatcher::found_in(std::string_view text) const {
  if (answers_.empty()) return false;
  if (is_ascii(text)) return found_in_ascii(answers_, text);
  thread_local std::vector<std::u32string> tokens;
  nfd_tokens(text, tokens);
  for (const auto& answer : answers_) {
    if (answer.size() > tokens.size()) continue;
    for (size_t i = 0; i + answer.size() <= tokens.size(); ++i) {
      if (std::equal(answer.begin(), answer.end(), tokens.begin() + static_cast<std::ptrdiff_t>(i)))
        return true;
    }
  }
  return false;
}

bool has_answer(const std::vector<std::string>& answers, std::string_view text) {
  return AnswerMatcher(answers).found_in(text);
}

RegexAnswerMatcher::RegexAnswerMatcher(const std::vector<std::string>& answers) {
  for (const std::string& answer : answers) {
    std::u32string pattern;
    nfd(utf8_decode(answer), pattern);
    try {
      patterns_.emplace_back(pattern, PyRegex::kDprFlags);
    } catch (const fid::Error&) {
      // DPR's regex_match: a pattern that does not compile is no match.
    }
  }
}

RegexAnswerMatcher::~RegexAnswerMatcher() = default;

bool RegexAnswerMatcher::found_in(std::string_view text) const {
  if (patterns_.empty()) return false;
  std::u32string t;
  nfd(utf8_decode(text), t);
  for (const PyRegex& p : patterns_)
    if (p.search(t).matched) return true;
  return false;
}

bool has_answer_regex(const std::vector<std::string>& answers, std::string_view text) {
  return RegexAnswerMatcher(answers).found_in(text);
}

AnswerMatch parse_answer_match(const std::string& value, const std::string& flag) {
  if (value == "string") return AnswerMatch::kString;
  if (value == "regex") return AnswerMatch::kRegex;
  FID_THROW(flag, " '", value, "': use string (DPR's token match) or regex (each answer a pattern)");
}

TopKAccuracy top_k_accuracy(const std::vector<RetrievedQuestion>& data, int threads, AnswerMatch match) {
  TopKAccuracy result;
  result.questions = static_cast<int64_t>(data.size());
  result.question_hits.resize(data.size());
  if (data.empty()) return result;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(data.size()));

  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t q = next++; q < data.size(); q = next++) {
      const RetrievedQuestion& item = data[q];
      std::vector<uint8_t>& hits = result.question_hits[q];
      hits.resize(item.passages.size());
      // Answers are tokenised (or compiled) once per question.
      auto mark = [&](const auto& matcher) {
        for (size_t p = 0; p < item.passages.size(); ++p) {
          const bool missing = p < item.missing.size() && item.missing[p] != 0;
          hits[p] = !missing && matcher.found_in(item.passages[p]);
        }
      };
      if (match == AnswerMatch::kRegex) {
        mark(RegexAnswerMatcher(item.answers));
      } else {
        mark(AnswerMatcher(item.answers));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  // A question counts from its first hit on; the range is the first
  // question's passage count (hits past it are not counted).
  result.hits.assign(data[0].passages.size(), 0);
  for (const auto& hits : result.question_hits) count_first_hit(hits, result.hits);
  return result;
}

void count_first_hit(const std::vector<uint8_t>& question_hits, std::vector<int64_t>& hits) {
  auto first = std::find(question_hits.begin(), question_hits.end(), 1);
  if (first == question_hits.end()) return;
  for (size_t k = static_cast<size_t>(first - question_hits.begin()); k < hits.size(); ++k) ++hits[k];
}

}  // namespace fid::text
