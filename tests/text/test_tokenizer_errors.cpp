// Bad input to the tokenizers: missing or corrupt model files give a
// fid::Error naming the file; invalid UTF-8, empty text and very long words
// give the reference's behaviour, never a crash.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/error.h"
#include "common/files.h"
#include "support/test_util.h"
#include "text/bert_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace fid::text {
namespace {

using fid::testing::fixtures_dir;
using fid::testing::TempDir;
using fid::testing::write_text;

std::string t5_dir() { return join_path(fixtures_dir(), "t5_tokenizer"); }
std::string bert_dir() { return join_path(fixtures_dir(), "bert"); }

// Runs f, expecting a fid::Error whose message contains `needle`.
template <typename F>
void expect_error_naming(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const fid::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TokenizerFiles, MissingSentencepieceModel) {
  TempDir dir;
  expect_error_naming([&] { T5Tokenizer::load(dir.file("nope.model")); }, dir.file("nope.model"));
  expect_error_naming([&] { T5Tokenizer::load(dir.path()); }, dir.path());  // no spiece.model inside
}

TEST(TokenizerFiles, CorruptSentencepieceModel) {
  TempDir dir;
  std::string good = read_file(join_path(t5_dir(), "spiece.model"));
  write_text(dir.file("truncated.model"), good.substr(0, good.size() / 3));
  expect_error_naming([&] { T5Tokenizer::load(dir.file("truncated.model")); }, dir.file("truncated.model"));
  write_text(dir.file("garbage.model"), std::string(4096, '\x7f'));
  expect_error_naming([&] { T5Tokenizer::load(dir.file("garbage.model")); }, dir.file("garbage.model"));
  write_text(dir.file("empty.model"), "");
  expect_error_naming([&] { T5Tokenizer::load(dir.file("empty.model")); }, dir.file("empty.model"));
}

TEST(TokenizerFiles, MissingOrCorruptVocab) {
  TempDir dir;
  expect_error_naming([&] { BertTokenizer::load(dir.file("vocab.txt")); }, dir.file("vocab.txt"));
  expect_error_naming([&] { BertTokenizer::load(dir.path()); }, "vocab.txt");
  write_text(dir.file("binary.txt"), std::string("\x00\xff\xfe[UNK]\n", 9));
  expect_error_naming([&] { BertTokenizer::load(dir.file("binary.txt")); }, dir.file("binary.txt"));
  write_text(dir.file("empty.txt"), "");
  expect_error_naming([&] { BertTokenizer::load(dir.file("empty.txt")); }, dir.file("empty.txt"));
  write_text(dir.file("nounk.txt"), "[PAD]\n[CLS]\n[SEP]\nhello\n");
  expect_error_naming([&] { BertTokenizer::load(dir.file("nounk.txt")); }, "[UNK]");
}

TEST(TokenizerInput, EmptyText) {
  T5Tokenizer v302 = T5Tokenizer::load(t5_dir(), {T5Convention::kV302, 100});
  T5Tokenizer v4 = T5Tokenizer::load(t5_dir(), {T5Convention::kV4, 100});
  EXPECT_TRUE(v302.encode("").empty());
  EXPECT_TRUE(v302.encode(" \t\n").empty());
  EXPECT_EQ(v4.encode(""), std::vector<int32_t>{1});
  BertTokenizer bert = BertTokenizer::load(bert_dir());
  EXPECT_EQ(bert.encode("").ids, (std::vector<int32_t>{bert.cls_id(), bert.sep_id()}));
  EXPECT_EQ(v302.decode(std::vector<int64_t>{}, true), "");
  EXPECT_EQ(bert.decode({}), "");
}

TEST(TokenizerInput, InvalidUtf8NeverCrashes) {
  T5Tokenizer t5 = T5Tokenizer::load(t5_dir());
  BertTokenizer bert = BertTokenizer::load(bert_dir());
  std::string bad = "caf\xC3 \xFF\xFE hello \xED\xA0\x80 world \xF0\x9F";
  std::vector<int32_t> ids = t5.encode(bad);
  ASSERT_FALSE(ids.empty());
  for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < t5.vocab_size());
  // BertTokenizer drops U+FFFD, which ill-formed bytes decode to.
  EXPECT_EQ(bert.encode(bad).ids, bert.encode("caf  hello  world ").ids);
  EXPECT_NO_THROW(t5.decode(std::vector<int64_t>(ids.begin(), ids.end()), false));
}

TEST(TokenizerInput, VeryLongWords) {
  BertTokenizer bert = BertTokenizer::load(bert_dir());
  std::string word100(100, 'a'), word101(101, 'a');
  EXPECT_NE(bert.encode(word100).ids[1], bert.unk_id());
  EXPECT_EQ(bert.encode(word101).ids, (std::vector<int32_t>{bert.cls_id(), bert.unk_id(), bert.sep_id()}));
  T5Tokenizer t5 = T5Tokenizer::load(t5_dir());
  std::string huge(200000, 'x');
  std::vector<int32_t> ids = t5.encode(huge);
  EXPECT_GT(ids.size(), 1000u);
  EXPECT_EQ(t5.encode(huge, 50).size(), 50u);
  EXPECT_EQ(bert.encode(huge, 16).ids.size(), 3u);  // one [UNK] word
}

TEST(TokenizerInput, ImpossibleLengthsAndIds) {
  T5Tokenizer v4 = T5Tokenizer::load(t5_dir(), {T5Convention::kV4, 100});
  EXPECT_THROW(v4.encode("some text", 1), fid::Error);
  EXPECT_EQ(v4.encode("some text", 2).size(), 2u);
  EXPECT_THROW(v4.decode(std::vector<int64_t>{5, -1}, false), fid::Error);
  // Ids past the vocabulary (a model with a larger output layer) read as
  // the reference spells them.
  EXPECT_EQ(v4.decode(std::vector<int64_t>{600}, false), "<extra_id_-1>");
  BertTokenizer bert = BertTokenizer::load(bert_dir());
  EXPECT_THROW(bert.encode("two words", 2), fid::Error);
  EXPECT_EQ(bert.encode("two words", 3).ids.size(), 3u);
  EXPECT_EQ(bert.decode({100000, -3}), "[UNK] [UNK]");
  EXPECT_THROW(parse_t5_convention("v5"), fid::Error);
  EXPECT_EQ(parse_t5_convention("3.0.2"), T5Convention::kV302);
  EXPECT_EQ(parse_t5_convention("V4"), T5Convention::kV4);
}

// Runs in a child with FID_SPM_LIBRARY pointing nowhere (see below); in the
// normal run the library loads from the build tree.
TEST(SpmLibraryChild, ReportsWhereItLooked) {
  const char* env = std::getenv("FID_SPM_LIBRARY");
  if (env != nullptr && std::string(env).find("/nonexistent/") != std::string::npos) {
    expect_error_naming([] { spm_library_path(); }, env);
    expect_error_naming([] { T5Tokenizer::load(t5_dir()); }, "FID_SPM_LIBRARY");
  } else {
    EXPECT_NE(spm_library_path().find("libfid_spm"), std::string::npos);
  }
}

TEST(SpmLibrary, MissingLibraryIsAClearError) {
  std::string out;
  int rc = fid::testing::run_command(
      "FID_SPM_LIBRARY=/nonexistent/libfid_spm.so /proc/" + std::to_string(getpid()) +
          "/exe --gtest_filter=SpmLibraryChild.ReportsWhereItLooked",
      &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("[  PASSED  ] 1 test"), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::text
