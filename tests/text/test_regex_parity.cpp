// DPR's regex answer matching against the reference: every has_answer_case of
// answer_match_cases.json, per answer pattern (compiles or not, the first
// search match and its span in code points of the NFD text, the matched
// text) and per case (has_answer_regex). Plus the engine's error messages.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "support/test_util.h"
#include "text/metrics.h"
#include "text/py_regex.h"
#include "text/unicode.h"

namespace fid::text {
namespace {

nlohmann::json load_cases() {
  return read_json_file(join_path(fid::testing::fixtures_dir(), "answer_match_cases.json"));
}

std::u32string u32(const std::string& s) { return utf8_decode(s); }

TEST(RegexParity, EveryHasAnswerCase) {
  const nlohmann::json all = load_cases();
  const nlohmann::json& cases = all["has_answer_cases"];
  size_t checked = 0;
  size_t patterns_checked = 0;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const nlohmann::json& c = cases[ci];
    const std::string text = c["text"].get<std::string>();
    const auto answers = c["answers"].get<std::vector<std::string>>();
    SCOPED_TRACE("case " + std::to_string(ci) + " (" + c["note"].get<std::string>() + ")");
    const std::u32string nfd_text = u32(c["nfd_text"].get<std::string>());
    EXPECT_EQ(utf8_encode(nfd_text), nfd_normalize(text));
    const nlohmann::json& patterns = c["patterns"];
    ASSERT_EQ(patterns.size(), answers.size());
    for (const nlohmann::json& p : patterns) {
      const std::string nfd_pattern = p["nfd_pattern"].get<std::string>();
      SCOPED_TRACE("pattern " + nfd_pattern);
      EXPECT_EQ(nfd_normalize(p["pattern"].get<std::string>()), nfd_pattern);
      RegexMatch m;
      bool compiles = true;
      std::string error;
      try {
        m = PyRegex(u32(nfd_pattern), PyRegex::kDprFlags).search(nfd_text);
      } catch (const fid::Error& e) {
        compiles = false;
        error = e.what();
      }
      EXPECT_EQ(compiles, p["compiles"].get<bool>()) << error;
      EXPECT_EQ(m.matched, p["match"].get<bool>());
      if (p["span"].is_null()) {
        EXPECT_FALSE(m.matched);
        EXPECT_TRUE(p["matched"].is_null());
      } else {
        ASSERT_TRUE(m.matched);
        EXPECT_EQ(m.start, p["span"][0].get<size_t>());
        EXPECT_EQ(m.end, p["span"][1].get<size_t>());
        EXPECT_EQ(utf8_encode(nfd_text.substr(m.start, m.end - m.start)),
                  p["matched"].get<std::string>());
      }
      ++patterns_checked;
    }
    EXPECT_EQ(has_answer_regex(answers, text), c["has_answer_regex"].get<bool>());
    ++checked;
  }
  // The fixture holds 52 cases: an empty or truncated file must not pass.
  EXPECT_EQ(checked, 52u);
  EXPECT_GT(patterns_checked, 50u);
}

std::string compile_error(const std::string& pattern) {
  return fid::testing::error_of([&] { PyRegex r(u32(pattern)); });
}

TEST(RegexParity, ErrorMessagesNameTheProblem) {
  EXPECT_NE(compile_error("(unclosed").find("missing ) at position 9"), std::string::npos);
  EXPECT_NE(compile_error("(?-i)paris").find("cannot turn flags off"), std::string::npos);
  EXPECT_NE(compile_error("c+++").find("multiple repeat"), std::string::npos);
  EXPECT_NE(compile_error("*a").find("nothing to repeat"), std::string::npos);
  EXPECT_NE(compile_error("[z-a]").find("bad character range"), std::string::npos);
  EXPECT_NE(compile_error("[abc").find("unterminated character set"), std::string::npos);
  EXPECT_NE(compile_error("\\q").find("bad escape \\q"), std::string::npos);
  EXPECT_NE(compile_error("\\p{NoSuchProperty}").find("unknown property"), std::string::npos);
  EXPECT_NE(compile_error("(a)\\2").find("invalid group reference"), std::string::npos);
  EXPECT_NE(compile_error("a{3,1}").find("min repeat greater than max repeat"), std::string::npos);
  EXPECT_NE(compile_error("(?:ab){e<=1}").find("fuzzy matching"), std::string::npos);
  // The pattern itself is quoted so that a log line says which answer failed.
  EXPECT_NE(compile_error("(unclosed").find("'(unclosed'"), std::string::npos);
  EXPECT_EQ(compile_error("c++"), "");
}

RegexMatch find(const std::string& pattern, const std::string& text, unsigned flags = PyRegex::kDprFlags) {
  return PyRegex(u32(pattern), flags).search(u32(text));
}

TEST(RegexParity, EngineSemantics) {
  // Greedy, lazy and possessive repeats; backtracking into groups.
  EXPECT_EQ(find("a.*b", "xaxbxb").end, 6u);
  EXPECT_EQ(find("a.*?b", "xaxbxb").end, 4u);
  EXPECT_FALSE(find("a++a", "aaa").matched);
  EXPECT_TRUE(find("(?:ab)+c", "ababc").matched);
  EXPECT_TRUE(find("(a|ab)(c|bcd)(d*)$", "abcd").matched);
  // Sets: ranges, negation, POSIX classes, case-insensitive ranges.
  EXPECT_TRUE(find("[[:digit:]]{4}", "in 1999").matched);
  EXPECT_FALSE(find("[^a-z]", "ABC").matched);
  EXPECT_TRUE(find("[]x]", "]").matched);
  // Lookaround, atomic groups, \K, named groups and references.
  EXPECT_EQ(find("(?<=\\$)\\d+", "cost $15").start, 6u);
  EXPECT_FALSE(find("foo(?!bar)", "foobar").matched);
  EXPECT_FALSE(find("(?>a+)a", "aaa").matched);
  EXPECT_EQ(find("abc\\Kdef", "abcdef").start, 3u);
  EXPECT_TRUE(find("(?P<x>o)(?P=x)", "book").matched);
  // Scoped flags; DOTALL only where asked for.
  EXPECT_FALSE(find("a.b", "a\nb").matched);
  EXPECT_TRUE(find("(?s:a.b)", "a\nb").matched);
  EXPECT_TRUE(find("(?x) p a r i s  # comment", "Paris").matched);
  // Simple folding: the Kelvin sign and long s fold with k and s.
  EXPECT_TRUE(find("k", "\u212A").matched);
  EXPECT_TRUE(find("[a-z]", "\u017F").matched);
  // \X takes a base letter with its combining marks.
  EXPECT_EQ(find("\\X", "e\u0301x").end, 2u);
  // Catastrophic backtracking stops at the step limit and counts as no match.
  EXPECT_FALSE(find("(a*)*b", std::string(5000, 'a')).matched);
}

}  // namespace
}  // namespace fid::text
