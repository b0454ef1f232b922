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

TEST(ExampleWriter, ReaderScoresKeepOnlyTheScoredPassagesAndUnknownFields) {
  // Ctxs out of score order: the reader read them sorted (9, 3.5, unscored).
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
  writer.write_raw(with_reader_scores(examples[0].raw, {0.25, -1.5}));  // two of three ctxs scored
  writer.close();
  const std::string text = read_file(dir.file("out.jsonl"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  const ordered_json got = ordered_json::parse(text);
  const ordered_json in = ordered_json::parse(raw);
  // The unscored third passage (by retrieval order) is gone: no retrieval
  // score is left to be ranked among the reader's.
  ASSERT_EQ(got["ctxs"].size(), 2u);
  ordered_json first = in["ctxs"][2], second = in["ctxs"][0];
  first["score"] = 0.25;
  first["retrieval_score"] = 9.0;
  first["score_origin"] = "reader";
  second["score"] = -1.5;
  second["retrieval_score"] = 3.5;
  second["score_origin"] = "reader";
  EXPECT_EQ(got["ctxs"][0], first);
  EXPECT_EQ(got["ctxs"][1], second);
  EXPECT_EQ(got["ctxs"][1].dump(), second.dump());  // same field order, new fields last
  std::vector<std::string> keys;
  for (auto& [k, v] : got.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "question", "extra", "ctxs", "answers"}));
  EXPECT_EQ(got["extra"], in["extra"]);

  auto back = read_examples(dir.file("out.jsonl"));
  ASSERT_EQ(back[0].ctxs.size(), 2u);
  EXPECT_DOUBLE_EQ(back[0].ctxs[1].score, -1.5);
  EXPECT_EQ(back[0].ctxs[0].score_origin, "reader");
  EXPECT_EQ(back[0].ctxs[0].id, "3");
}

TEST(ExampleWriter, ReaderScoresOfUnsortedPassagesKeepTheirOrder) {
  // Without a score on the first ctx the reader reads the file order.
  const std::string raw = R"({"id": "u", "question": "q", "ctxs": [{"title": "a", "text": "t1"},
    {"title": "b", "text": "t2", "score": 5}, {"title": "c", "text": "t3"}]})";
  const ordered_json got = ordered_json::parse(with_reader_scores(raw, {1.0, 2.0, 3.0}));
  ASSERT_EQ(got["ctxs"].size(), 3u);
  EXPECT_EQ(got["ctxs"][1]["title"], "b");
  EXPECT_EQ(got["ctxs"][1]["retrieval_score"], 5.0);
  EXPECT_FALSE(got["ctxs"][0].contains("retrieval_score"));
  EXPECT_EQ(got["ctxs"][2]["score"], 3.0);
}

TEST(ExampleWriter, ReaderScoresRejectMoreScoresThanCtxs) {
  try {
    with_reader_scores(R"({"id": "x", "question": "q", "ctxs": [{"title": "a", "text": "b"}]})",
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
  ex.ctxs.push_back({"p", "t", "x", std::nan(""), true, -1, ""});
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
