// Unicode helpers and the shared text handling: UTF-8 replacement decoding,
// Python's isspace/lower/strip/split, NFD, special-token splitting, and
// transformers' clean-up of decoded text.
#include <gtest/gtest.h>

#include "text/hf_text.h"
#include "text/unicode.h"

namespace fid::text {
namespace {

TEST(Utf8, RoundTripsEveryPlane) {
  std::u32string s = U"a\u00e9\u4e2d\U0001F600";
  EXPECT_EQ(utf8_encode(s), "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8_decode(utf8_encode(s)), s);
}

TEST(Utf8, IllFormedBytesBecomeOneReplacementPerMaximalSubpart) {
  // As Python's bytes.decode('utf-8', 'replace').
  EXPECT_EQ(utf8_decode("\xE0\x80"), std::u32string(U"\uFFFD\uFFFD"));
  EXPECT_EQ(utf8_decode("a\xF0\x9F\x98"), std::u32string(U"a\uFFFD"));
  EXPECT_EQ(utf8_decode("\xED\xA0\x80x"), std::u32string(U"\uFFFD\uFFFD\uFFFDx"));  // a surrogate
  EXPECT_EQ(utf8_decode("\xC0\xAF"), std::u32string(U"\uFFFD\uFFFD"));
  EXPECT_EQ(utf8_decode("\xFF"), std::u32string(U"\uFFFD"));
  size_t bad = 0;
  EXPECT_FALSE(is_valid_utf8("ok\xC3", &bad));
  EXPECT_EQ(bad, 2u);
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBD and \xC3\xA9"));
}

TEST(PythonSemantics, IsSpaceMatchesStrIsspace) {
  for (char32_t c : {U'\t', U'\n', U'\x0b', U'\x0c', U'\r', U'\x1c', U'\x1f', U' ', U'\u0085', U'\u00a0',
                     U'\u1680', U'\u2000', U'\u200a', U'\u2028', U'\u2029', U'\u202f', U'\u3000'})
    EXPECT_TRUE(is_python_space(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {U'a', U'\u200b', U'\u180e', U'\ufeff', U'_', U'\x00'})
    EXPECT_FALSE(is_python_space(c)) << static_cast<uint32_t>(c);
}

TEST(PythonSemantics, LowerUsesFullMappingsAndFinalSigma) {
  std::u32string out;
  python_lower(U"\u0130stanbul", out);  // İ -> i + combining dot
  EXPECT_EQ(out, std::u32string(U"i\u0307stanbul"));
  out.clear();
  python_lower(U"\u03a3\u039f\u03a6\u039f\u03a3", out);  // ΣΟΦΟΣ -> σοφος
  EXPECT_EQ(out, std::u32string(U"\u03c3\u03bf\u03c6\u03bf\u03c2"));
  out.clear();
  python_lower(U"\u03a3", out);  // alone: not final
  EXPECT_EQ(out, std::u32string(U"\u03c3"));
  out.clear();
  python_lower(U"\u039f\u03a3.", out);  // a case-ignorable after it keeps it final
  EXPECT_EQ(out, std::u32string(U"\u03bf\u03c2."));
  out.clear();
  python_lower_char(U'\u03a3', out);
  EXPECT_EQ(out, std::u32string(U"\u03c3"));
  out.clear();
  python_lower(U"\u01c5", out);  // titlecase ǅ -> ǆ
  EXPECT_EQ(out, std::u32string(U"\u01c6"));
}

TEST(PythonSemantics, NfdDecomposesAndOrdersMarks) {
  std::u32string out;
  nfd(U"caf\u00e9", out);
  EXPECT_EQ(out, std::u32string(U"cafe\u0301"));
  out.clear();
  nfd(U"\uac00", out);  // Hangul syllable
  EXPECT_EQ(out, std::u32string(U"\u1100\u1161"));
  out.clear();
  nfd(U"a\u0301\u0323", out);  // dot below (220) sorts before acute (230)
  EXPECT_EQ(out, std::u32string(U"a\u0323\u0301"));
  out.clear();
  nfd(U"\ufb01", out);  // ﬁ has only a compatibility decomposition
  EXPECT_EQ(out, std::u32string(U"\ufb01"));
}

TEST(PythonSemantics, StripAndSplit) {
  EXPECT_EQ(python_strip(" \t a b \xE2\x80\x83"), "a b");  // U+2003 EM SPACE
  EXPECT_EQ(python_lstrip("  x "), "x ");
  EXPECT_EQ(python_rstrip("  x \n"), "  x");
  EXPECT_EQ(python_strip("\xE2\x80\x8B"), "\xE2\x80\x8B");  // zero-width space is not whitespace
  std::vector<std::string_view> parts = python_split("  a\u00a0b\n\nc ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "a");
  EXPECT_EQ(parts[1], "b");
  EXPECT_EQ(parts[2], "c");
  EXPECT_TRUE(python_split(" \t ").empty());
}

TEST(RegexWord, MatchesTheRegexModule) {
  for (char32_t c : {U'a', U'Z', U'0', U'_', U'\u00e9', U'\u0301', U'\u0663', U'\u2160', U'\u24b6', U'\u200d'})
    EXPECT_TRUE(is_regex_word(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {U' ', U'-', U'\u00b2', U'\u00bd', U'\u2019', U'\u3000'})
    EXPECT_FALSE(is_regex_word(c)) << static_cast<uint32_t>(c);
}

TEST(SpecialTokens, SplitStylesOfBothVersions) {
  SpecialTokenMatcher m({"</s>", "<pad>", "<extra_id_1>", "<extra_id_10>"});
  std::vector<TextSegment> segs;
  split_on_special_tokens(" a </s>  b<extra_id_10></s> ", m, SpecialSplitStyle::kStripNeighbours, segs);
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[0].text, " a");
  EXPECT_EQ(segs[1].special, 0);
  EXPECT_EQ(segs[2].text, "b");
  EXPECT_EQ(segs[3].special, 3);  // longest match: <extra_id_10>, not <extra_id_1>
  EXPECT_EQ(segs[4].special, 0);
  split_on_special_tokens(" a </s>  b<extra_id_10></s> ", m, SpecialSplitStyle::kRstripSegments, segs);
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[0].text, " a");
  EXPECT_EQ(segs[2].text, "  b");  // 3.0.2 strips only on the right
  split_on_special_tokens("   ", m, SpecialSplitStyle::kRstripSegments, segs);
  EXPECT_TRUE(segs.empty());
  split_on_special_tokens("", m, SpecialSplitStyle::kStripNeighbours, segs);
  EXPECT_TRUE(segs.empty());
}

TEST(CleanUp, RemovesSpacesBeforePunctuationAndContractions) {
  EXPECT_EQ(clean_up_tokenization("a , b . c ? d ! e"), "a, b. c? d! e");
  EXPECT_EQ(clean_up_tokenization("do n't I 'm it 's we 've they 're"), "don't I'm it's we've they're");
  EXPECT_EQ(clean_up_tokenization("a ' b"), "a'b");
  EXPECT_EQ(clean_up_tokenization("I do not"), "I do not");  // not rewritten in 3.0.2 or 4.x
}

}  // namespace
}  // namespace fid::text
