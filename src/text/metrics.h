// Answer metrics of the reference evaluation code: SQuAD exact match
// (normalize_answer, best over the gold answers) and DPR's has_answer with its
// SimpleTokenizer, plus the top-k retrieval accuracy built on it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/py_regex.h"

namespace fid::text {

// lower(); drop the characters of Python's string.punctuation; replace the
// words a/an/the (regex \b(a|an|the)\b) by a space; collapse whitespace.
std::string normalize_answer(std::string_view s);
bool exact_match(std::string_view prediction, std::string_view ground_truth);
// Best exact match over the gold answers; throws fid::Error when there are none.
bool ems(std::string_view prediction, const std::vector<std::string>& ground_truths);
// SQuAD v1.1's token F1 (Atlas's `f1`): normalize_answer, split on spaces,
// the multiset overlap; 0 when nothing overlaps. f1_score is the best over
// the gold answers (at least one).
double f1(std::string_view prediction, std::string_view ground_truth);
double f1_score(std::string_view prediction, const std::vector<std::string>& ground_truths);

// DPR's SimpleTokenizer: maximal runs of letters, numbers and marks
// ([\p{L}\p{N}\p{M}]+), or any single character that is neither a separator
// nor a control/format/unassigned character; lower-cased when `uncased`.
// BM25 indexes words of the same classes.
void simple_tokenize(std::u32string_view text, bool uncased, std::vector<std::u32string>& out);
std::vector<std::string> simple_tokenize(std::string_view text, bool uncased);
// unicodedata.normalize('NFD', text).
std::string nfd_normalize(std::string_view text);

// has_answer(answers, text): some answer's tokens (NFD, uncased) occur
// contiguously in the text's tokens; an answer without tokens always does.
class AnswerMatcher {
 public:
  explicit AnswerMatcher(const std::vector<std::string>& answers);
  bool found_in(std::string_view text) const;
  const std::vector<std::vector<std::u32string>>& answer_tokens() const { return answers_; }

 private:
  std::vector<std::vector<std::u32string>> answers_;
};
bool has_answer(const std::vector<std::string>& answers, std::string_view text);
// DPR's has_answer(..., match_type='regex'): each answer is a pattern of the
// `regex` module (IGNORECASE | UNICODE | MULTILINE) searched in the text, both
// NFD-normalised and not lower-cased; a pattern that does not compile (or
// uses a feature PyRegex lacks) counts as no match. False without answers.
bool has_answer_regex(const std::vector<std::string>& answers, std::string_view text);
// The same with the patterns compiled once, for the passages of one question.
class RegexAnswerMatcher {
 public:
  explicit RegexAnswerMatcher(const std::vector<std::string>& answers);
  ~RegexAnswerMatcher();
  bool found_in(std::string_view text) const;

 private:
  std::vector<PyRegex> patterns_;  // the answers that compile
};

// How a passage is judged to contain an answer: DPR's `--match string`
// (has_answer, tokens) or `--match regex` (has_answer_regex: each answer a
// pattern, as for CuratedTREC).
enum class AnswerMatch { kString, kRegex };
// "string" | "regex"; anything else is an error naming `flag`.
AnswerMatch parse_answer_match(const std::string& value, const std::string& flag);

// One question of a retrieval result: its answers and its ranked passages.
struct RetrievedQuestion {
  std::vector<std::string> answers;
  std::vector<std::string> passages;  // passage texts, best first
  std::vector<uint8_t> missing;       // optional: 1 where the passage text is unknown (no hit)
};

struct TopKAccuracy {
  int64_t questions = 0;
  // hits[k]: questions with an answer among their first k+1 passages; its
  // length is the passage count of the first question, as in the reference.
  std::vector<int64_t> hits;
  std::vector<std::vector<uint8_t>> question_hits;  // has_answer per question and passage
  double accuracy(size_t k) const {  // fraction within the first k passages (k >= 1)
    return questions == 0 || k == 0 || hits.empty()
               ? 0.0
               : static_cast<double>(hits[std::min(k, hits.size()) - 1]) / static_cast<double>(questions);
  }
};

// Adds one question's has_answer flags to cumulative `hits` (as
// TopKAccuracy::hits): the first hit at rank r counts for every k >= r, and
// ranks beyond hits.size() are not counted (the reference's calculate_matches).
void count_first_hit(const std::vector<uint8_t>& question_hits, std::vector<int64_t>& hits);

// has_answer for every (question, passage), over `threads` threads (0: all cores).
TopKAccuracy top_k_accuracy(const std::vector<RetrievedQuestion>& data, int threads = 0,
                            AnswerMatch match = AnswerMatch::kString);

}  // namespace fid::text
