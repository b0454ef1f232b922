#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

using nlohmann::ordered_json;

int count_files(const std::string& dir) {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++n;
  return n;
}

TEST(JsonString, EscapesWhatJsonRequires) {
  const std::string s = std::string("q\"\\/\n\r\t\b\f\x01\x1f caf\xC3\xA9 ") + '\0' + "end";
  std::string out;
  ASSERT_TRUE(append_json_string(out, s));
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), s);
  EXPECT_EQ(out.find('\n'), std::string::npos);  // JSON lines stay one line
  std::string bad;
  EXPECT_FALSE(append_json_string(bad, "ok \xC3("));
  EXPECT_TRUE(bad.empty());
}

TEST(ExampleWriter, RawRewriteChangesOnlyScoresAndKeepsUnknownFields) {
  const std::string raw = R"({"id": 7, "question": "q", "extra": {"k": [1, 2.5, "x"]},
    "ctxs": [{"id": "1", "title": "a", "text": "t1", "score": "3.5", "note": "keep"},
             {"title": "b", "text": "t2", "hasanswer": false},
             {"id": "3", "title": "c", "text": "t3", "score": 9}], "answers": ["a"]})";
  testing::TempDir dir;
  ReaderOptions opt;
  opt.keep_raw = true;
  testing::write_text(dir.file("in.json"), "[" + raw + "]");
  auto examples = read_examples(dir.file("in.json"), opt);
  ASSERT_EQ(examples.size(), 1u);
  EXPECT_EQ(examples[0].raw, std::string(raw));

  ExampleWriter writer(dir.file("out.jsonl"), DatasetFormat::kJsonLines);
  writer.write_raw_with_scores(examples[0].raw, {0.25, -1.5});  // two of three ctxs scored
  writer.close();
  const std::string text = read_file(dir.file("out.jsonl"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  const ordered_json got = ordered_json::parse(text);
  ordered_json want = ordered_json::parse(raw);
  want["ctxs"][0]["score"] = 0.25;
  want["ctxs"][1]["score"] = -1.5;
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.dump(), want.dump());  // same field order
  std::vector<std::string> keys;
  for (auto& [k, v] : got.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "question", "extra", "ctxs", "answers"}));

  auto back = read_examples(dir.file("out.jsonl"));
  EXPECT_DOUBLE_EQ(back[0].ctxs[1].score, -1.5);
  EXPECT_DOUBLE_EQ(back[0].ctxs[2].score, 9.0);
}

TEST(ExampleWriter, RawRewriteRejectsMoreScoresThanCtxs) {
  try {
    rewrite_ctx_scores(R"({"id": "x", "question": "q", "ctxs": [{"title": "a", "text": "b"}]})",
                       {1.0, 2.0});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 scores for 1 ctxs"), std::string::npos) << e.what();
  }
}

TEST(ExampleWriter, NothingAppearsUnderTheFinalNameBeforeClose) {
  testing::TempDir dir;
  const std::string path = dir.file("out.json");
  {
    ExampleWriter writer(path, DatasetFormat::kJsonArray);
    Example ex;
    ex.id = "1";
    ex.question = "q";
    writer.write(ex);
    EXPECT_FALSE(path_exists(path));
    EXPECT_EQ(count_files(dir.path()), 1);  // the temporary file
  }  // dropped without close(): as if the job had failed
  EXPECT_FALSE(path_exists(path));
  EXPECT_EQ(count_files(dir.path()), 0);

  ExampleWriter writer(path, DatasetFormat::kJsonArray);
  writer.close();
  EXPECT_EQ(read_file(path), "[]\n");
  EXPECT_EQ(count_files(dir.path()), 1);
}

TEST(ExampleWriter, NonFiniteScoresAndInvalidUtf8AreRefused) {
  Example ex;
  ex.id = "e1";
  ex.question = "q";
  ex.ctxs.push_back({"p", "t", "x", std::nan(""), true, -1});
  EXPECT_THROW(example_to_json(ex), Error);
  ex.ctxs[0].score = 1.0;
  ex.ctxs[0].text = "bad \xFF";
  try {
    example_to_json(ex);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("example 'e1': field 'ctxs[0].text'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fid::data
