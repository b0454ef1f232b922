// Seeded random-input test of both tokenizers and the answer metrics: text
// built from the pieces that break tokenizers (special tokens, ill-formed
// UTF-8, controls, combining marks, CJK, final sigma, very long words) must
// never crash and must keep the invariants checked below. Runs for
// $FID_FUZZ_SECONDS (default 20) with seed $FID_FUZZ_SEED (default 20240601).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "common/files.h"
#include "support/test_util.h"
#include "text/bert_tokenizer.h"
#include "text/metrics.h"
#include "text/t5_tokenizer.h"
#include "text/unicode.h"

namespace fid::text {
namespace {

const char* const kPieces[] = {
    "the", "a", "an", "The", "license", "copyright", "program", " ", "  ", "\t", "\n", "\r\n",
    "\xC2\xA0", "\xE2\x80\xA8", "\xE3\x80\x80", "\xE2\x80\x8B", "\x00", "\x07", "\x7F", ".", ",", "!",
    "?", "'", "\"", "-", "_", "(", ")", "[", "]", "<", ">", "#", "##", "caf\xC3\xA9", "e\xCC\x81",
    "\xCC\x81", "\xCC\xA3\xCC\x81", "\xCE\xA3", "\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x9F\xCE\xA3", "\xC4\xB0",
    "\xC3\x9F", "\xEF\xAC\x81", "\xEF\xBC\xA6", "\xE4\xB8\xAD\xE5\x9B\xBD", "\xE6\x97\xA5\xE6\x9C\xAC",
    "\xED\x95\x9C", "\xF0\x9F\x98\x80", "\xE2\x80\x9C", "\xE2\x80\x94", "\xEF\xBF\xBD", "</s>", "<pad>",
    "<unk>", "<extra_id_0>", "<extra_id_99>", "<extra_id_100>", "<extra_id_", "[CLS]", "[SEP]", "[PAD]",
    "[MASK]", "[UNK]", "[cls]", "\xC3", "\xFF", "\xE0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
    "\xF0\x9F\x98", "\xC0\xAF", "42", "3.14", "1,000", "U.S.", "x", "q", "Z",
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  std::string text() {
    std::string s;
    int n = pick(0, 40);
    for (int i = 0; i < n; ++i) {
      int kind = pick(0, 99);
      if (kind < 70) {
        const char* piece = kPieces[pick(0, static_cast<int>(std::size(kPieces)) - 1)];
        if (*piece == '\0') s.push_back('\0');  // the NUL entry
        s += piece;
      } else if (kind < 85) {
        utf8_append(s, random_code_point());
      } else if (kind < 95) {
        s.push_back(static_cast<char>(pick(0, 255)));  // raw byte, often ill-formed
      } else {
        s += std::string(static_cast<size_t>(pick(90, 400)), static_cast<char>('a' + pick(0, 25)));
      }
    }
    return s;
  }
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  char32_t random_code_point() {
    static const std::pair<char32_t, char32_t> kRanges[] = {
        {0x20, 0x7E}, {0xA0, 0x24F}, {0x300, 0x36F}, {0x370, 0x3FF}, {0x400, 0x4FF}, {0x590, 0x6FF},
        {0xE00, 0xE7F}, {0x1100, 0x11FF}, {0x2000, 0x206F}, {0x2460, 0x24FF}, {0x3000, 0x30FF},
        {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xE000, 0xF8FF}, {0xFB00, 0xFB4F}, {0xFE00, 0xFFFF},
        {0x1F000, 0x1FAFF}, {0x20000, 0x2A6DF}, {0xE0000, 0xE007F}, {0x10FFF0, 0x10FFFF}};
    const auto& r = kRanges[pick(0, static_cast<int>(std::size(kRanges)) - 1)];
    return static_cast<char32_t>(std::uniform_int_distribution<uint32_t>(r.first, r.second)(rng_));
  }
  std::mt19937_64 rng_;
};

template <typename T>
void expect_ids_in_range(const std::vector<T>& ids, int64_t vocab, const std::string& text) {
  for (T id : ids) ASSERT_TRUE(id >= 0 && id < vocab) << "id " << id << " for " << ::testing::PrintToString(text);
}

TEST(TextFuzz, TokenizersAndMetricsKeepTheirInvariants) {
  double seconds = 20;
  uint64_t seed = 20240601;
  if (const char* s = std::getenv("FID_FUZZ_SECONDS")) seconds = std::atof(s);
  if (const char* s = std::getenv("FID_FUZZ_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::string t5_dir = join_path(fid::testing::fixtures_dir(), "t5_tokenizer");
  T5Tokenizer v302 = T5Tokenizer::load(t5_dir, {T5Convention::kV302, 100});
  T5Tokenizer v4 = T5Tokenizer::load(t5_dir, {T5Convention::kV4, 100});
  ASSERT_TRUE(v302.model().word_split_exact());
  BertTokenizer bert = BertTokenizer::load(join_path(fid::testing::fixtures_dir(), "bert"));
  BertTokenizerOptions cased_options;
  cased_options.do_lower_case = false;
  BertTokenizer cased = BertTokenizer::load(join_path(fid::testing::fixtures_dir(), "bert"), cased_options);

  Generator gen(seed);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int64_t iterations = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = gen.text(), other = gen.text();
    int64_t max_len = gen.pick(2, 64);
    SCOPED_TRACE("seed " + std::to_string(seed) + " iteration " + std::to_string(iterations));

    // The per-word cache gives what one sentencepiece call on the whole text gives.
    std::vector<int32_t> whole, cached;
    v302.model().encode(text, whole);
    v302.model().encode_cached(text, cached);
    ASSERT_EQ(cached, whole) << ::testing::PrintToString(text);

    // sentencepiece, both conventions.
    std::vector<int32_t> full302 = v302.encode(text), cut302 = v302.encode(text, max_len);
    expect_ids_in_range(full302, v302.vocab_size(), text);
    ASSERT_LE(static_cast<int64_t>(cut302.size()), max_len);
    ASSERT_TRUE(std::equal(cut302.begin(), cut302.end(), full302.begin()));  // a prefix
    ASSERT_EQ(v302.tokenize(text).size(), full302.size());
    std::vector<int32_t> full4 = v4.encode(text), cut4 = v4.encode(text, max_len);
    expect_ids_in_range(full4, v4.vocab_size(), text);
    ASSERT_FALSE(cut4.empty());
    ASSERT_EQ(cut4.back(), v4.eos_id());
    ASSERT_LE(static_cast<int64_t>(cut4.size()), max_len);
    for (bool skip : {false, true}) {
      std::string d302 = v302.decode(full302, skip), d4 = v4.decode(full4, skip);
      ASSERT_TRUE(is_valid_utf8(d302) || !is_valid_utf8(text));
    }

    // WordPiece, uncased and cased, single texts and pairs.
    for (const BertTokenizer* tok : {&bert, &cased}) {
      BertTokenizer::Encoding e = tok->encode(text);
      expect_ids_in_range(e.ids, tok->vocab_size(), text);
      ASSERT_GE(e.ids.size(), 2u);
      ASSERT_EQ(e.ids.front(), tok->cls_id());
      ASSERT_EQ(e.ids.back(), tok->sep_id());
      ASSERT_EQ(tok->tokenize(text).size(), e.ids.size() - 2);
      int64_t pair_len = std::max<int64_t>(max_len, 3);
      TokenBatch pair = tok->encode_pair_batch({text}, {other}, {pair_len, true});
      ASSERT_EQ(pair.length, pair_len);
      std::string decoded = tok->decode(std::vector<int64_t>(e.ids.begin(), e.ids.end()), true);
      ASSERT_TRUE(is_valid_utf8(decoded));
    }
    ASSERT_EQ(bert.encode(text, std::max<int64_t>(max_len, 3)).ids.size(),
              std::min<size_t>(bert.encode(text).ids.size(), static_cast<size_t>(std::max<int64_t>(max_len, 3))));

    // Metrics.
    std::string norm = normalize_answer(text);
    ASSERT_TRUE(is_valid_utf8(norm));
    ASSERT_EQ(norm, std::string(python_strip(norm)));
    ASSERT_EQ(norm.find("  "), std::string::npos);
    for (char ch : norm) ASSERT_TRUE(!(ch >= 'A' && ch <= 'Z') && !std::ispunct(static_cast<unsigned char>(ch)));
    ASSERT_TRUE(exact_match(text, text));
    ASSERT_TRUE(has_answer({text}, text + " " + other));
    ASSERT_TRUE(has_answer({other}, text + " " + other));
    ++iterations;
  }
  // The same texts from several threads give the same ids (the tokenizers
  // share one model and keep per-thread scratch only).
  Generator again(seed);
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(again.text());
  std::vector<std::vector<int32_t>> serial;
  for (const auto& t : texts) serial.push_back(v302.encode(t));
  std::vector<std::vector<std::vector<int32_t>>> parallel(4);
  std::vector<std::thread> pool;
  for (size_t w = 0; w < parallel.size(); ++w)
    pool.emplace_back([&, w] {
      for (const auto& t : texts) parallel[w].push_back(v302.encode(t));
    });
  for (auto& t : pool) t.join();
  for (const auto& p : parallel) EXPECT_EQ(p, serial);
  std::printf("text fuzz: %lld iterations in %.0f s (seed %llu)\n", static_cast<long long>(iterations),
              seconds, static_cast<unsigned long long>(seed));
  EXPECT_GT(iterations, 100);
}

}  // namespace
}  // namespace fid::text
