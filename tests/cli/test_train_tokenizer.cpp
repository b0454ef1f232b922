// `fid train-tokenizer` end to end: the `fid` binary (which links LibTorch)
// trains unigram and BPE models from a text file and from a passages TSV,
// and the models load and tokenize with T5's special-id layout.
#include <gtest/gtest.h>

#include <random>

#include "common/files.h"
#include "support/test_util.h"
#include "text/t5_tokenizer.h"

namespace fid::text {
namespace {

using fid::testing::fid_binary;
using fid::testing::run_command;
using fid::testing::TempDir;
using fid::testing::write_text;

const char* const kWords[] = {
    "the", "program", "license", "copyright", "holder", "may", "distribute", "copies", "of", "source",
    "code", "warranty", "terms", "and", "conditions", "you", "receive", "work", "grant", "patent",
    "contributor", "modify", "notice", "software", "free", "public", "general", "version", "any", "later"};

// Seeded sentences over a small vocabulary: enough text for a tiny model.
std::vector<std::string> sentences(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> word(0, std::size(kWords) - 1);
  std::uniform_int_distribution<int> length(4, 14);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int k = length(rng); k > 0; --k) s += std::string(s.empty() ? "" : " ") + kWords[word(rng)];
    out.push_back(s + ".");
  }
  return out;
}

void expect_t5_layout_and_round_trip(const std::string& dir, int pieces) {
  T5Tokenizer tok = T5Tokenizer::load(dir, {T5Convention::kV4, 100});
  EXPECT_EQ(tok.model().piece_size(), pieces);
  EXPECT_EQ(tok.vocab_size(), pieces + 100);
  EXPECT_EQ(tok.model().id_to_piece(0), "<pad>");
  EXPECT_EQ(tok.model().id_to_piece(1), "</s>");
  EXPECT_EQ(tok.model().id_to_piece(2), "<unk>");
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.unk_id(), 2);
  std::string text = "the copyright holder may distribute copies of the program.";
  std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(ids.back(), 1);
  EXPECT_LT(ids.size(), text.size() / 2);  // whole words became pieces
  EXPECT_EQ(tok.decode(std::vector<int64_t>(ids.begin(), ids.end()), true), text);
}

TEST(TrainTokenizer, UnigramFromTextFile) {
  TempDir dir;
  std::string corpus;
  for (const std::string& s : sentences(3000, 7)) corpus += s + "\n";
  write_text(dir.file("corpus.txt"), corpus);
  std::string out;
  int rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("corpus.txt") +
                           " --output_dir " + dir.file("model") +
                           " --vocab_size 50 --model_type unigram --character_coverage 1.0",
                       &out);
  ASSERT_EQ(rc, 0) << out;
  expect_t5_layout_and_round_trip(dir.file("model"), 50);
}

TEST(TrainTokenizer, BpeFromPassagesTsv) {
  TempDir dir;
  std::string tsv = "id\ttext\ttitle\n";
  std::vector<std::string> s = sentences(2000, 11);
  for (size_t i = 0; i < s.size(); ++i) {
    // Some rows quoted as Python's csv module writes them.
    std::string text = i % 3 == 0 ? "\"" + s[i] + " \"\"quoted\"\"\"" : s[i];
    tsv += std::to_string(i + 1) + "\t" + text + "\t" + kWords[i % std::size(kWords)] + "\n";
  }
  write_text(dir.file("psgs.tsv"), tsv);
  std::string out;
  int rc = run_command(fid_binary() + " train-tokenizer --passages " + dir.file("psgs.tsv") +
                           " --output-dir " + dir.file("bpe") +
                           " --vocab-size 150 --model-type bpe --character-coverage 1.0 --input_sentence_size 3000",
                       &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("read 2000 passages"), std::string::npos) << out;
  expect_t5_layout_and_round_trip(dir.file("bpe"), 150);
  // The quotes were unwrapped: '"' is a piece of its own, never '""'.
  T5Tokenizer tok = T5Tokenizer::load(dir.file("bpe"));
  for (const std::string& p : tok.tokenize("\"quoted\"")) EXPECT_EQ(p.find("\"\""), std::string::npos) << p;
}

TEST(TrainTokenizer, BadArgumentsAreClearErrors) {
  TempDir dir;
  std::string out;
  int rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("missing.txt") +
                           " --output_dir " + dir.file("m"),
                       &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find(dir.file("missing.txt")), std::string::npos) << out;
  write_text(dir.file("c.txt"), "a b c\n");
  rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("c.txt") + " --passages " +
                       dir.file("c.txt") + " --output_dir " + dir.file("m"),
                   &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("exactly one of --input"), std::string::npos) << out;
  rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("c.txt") + " --output_dir " +
                       dir.file("m") + " --vocab_size 5000",
                   &out);
  EXPECT_NE(rc, 0);  // far more pieces than a three-word corpus can give
  EXPECT_NE(out.find("sentencepiece training failed"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(dir.file("m/spiece.model")));
}

// --hard_vocab_limit false: a vocabulary the corpus cannot fill becomes an
// upper bound instead of an error (the main job sizes it for any seed).
TEST(TrainTokenizer, SoftVocabLimitGivesFewerPieces) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += std::string(kWords[i % std::size(kWords)]) + " question\n";
  write_text(dir.file("c.txt"), text);
  std::string out;
  int rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("c.txt") +
                           " --output_dir " + dir.file("m") + " --vocab_size 5000",
                       &out);
  EXPECT_NE(rc, 0) << out;
  rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("c.txt") + " --output_dir " +
                       dir.file("m") + " --vocab_size 5000 --hard_vocab_limit false",
                   &out);
  ASSERT_EQ(rc, 0) << out;
  auto tok = T5Tokenizer::load(dir.file("m/spiece.model"));
  EXPECT_GT(tok.model().piece_size(), 3);
  EXPECT_LT(tok.model().piece_size(), 5000);
}

// --split_digits true: a year is the same digit pieces at the end of a
// sentence ("1977.") as alone ("1977"), so a reader can copy it from a
// passage into an answer. Without it, BPE merges frequent digit runs with
// the full stop and the answer's pieces never occur in the passage.
TEST(TrainTokenizer, SplitDigitsMakesEveryDigitAPiece) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 400; ++i) text += std::string(kWords[i % std::size(kWords)]) + " in 1977.\n";
  write_text(dir.file("c.txt"), text);
  auto train = [&](const std::string& name, const std::string& split) {
    std::string out;
    int rc = run_command(fid_binary() + " train-tokenizer --input " + dir.file("c.txt") + " --output_dir " +
                             dir.file(name) + " --vocab_size 100 --hard_vocab_limit false --model_type bpe" +
                             " --split_digits " + split,
                         &out);
    EXPECT_EQ(rc, 0) << out;
    return T5Tokenizer::load(dir.file(name + "/spiece.model"));
  };
  auto joined = [](const std::vector<std::string>& pieces) {
    std::string s;
    for (const std::string& p : pieces) s += p + "|";
    return s;
  };
  T5Tokenizer merged = train("merged", "false");
  EXPECT_NE(joined(merged.tokenize("in 1977.")).find("7."), std::string::npos)
      << "BPE no longer merges digits with the full stop: " << joined(merged.tokenize("in 1977."));
  T5Tokenizer split = train("split", "true");
  std::vector<std::string> sentence = split.tokenize("in 1977.");
  std::vector<std::string> answer = split.tokenize("1977");
  EXPECT_EQ(joined(sentence), "\u2581in|\u2581|1|9|7|7|.|");
  EXPECT_EQ(joined(answer), "\u2581|1|9|7|7|");
}

}  // namespace
}  // namespace fid::text
