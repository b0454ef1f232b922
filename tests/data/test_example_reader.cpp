#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/files.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

using nlohmann::json;

Example make_example(int i, int n_ctxs, size_t text_len = 40) {
  Example ex;
  ex.id = "q" + std::to_string(i);
  ex.question = "who wrote \"Ulysses\"? \\ tab\there, line\nbreak, caf\xC3\xA9 #" + std::to_string(i);
  ex.target = "James Joyce";
  ex.has_target = (i % 2) == 0;
  ex.answers = {"James Joyce", "Joyce \xE2\x9C\x93"};
  for (int j = 0; j < n_ctxs; ++j) {
    Context c;
    c.id = std::to_string(1000 * i + j);
    c.title = "Title {" + std::to_string(j) + "] \x01";
    c.text = std::string(text_len, 'a' + (j % 26)) + " \"quoted\" }]";
    c.has_score = j % 3 != 2;
    c.score = c.has_score ? 0.1 * j - 0.35 : 0.0;
    c.hasanswer = (j % 3) - 1;
    ex.ctxs.push_back(c);
  }
  return ex;
}

void expect_same(const Example& a, const Example& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.question, b.question);
  EXPECT_EQ(a.has_target, b.has_target);
  if (a.has_target) {
    EXPECT_EQ(a.target, b.target);
  }
  EXPECT_EQ(a.answers, b.answers);
  ASSERT_EQ(a.ctxs.size(), b.ctxs.size());
  for (size_t j = 0; j < a.ctxs.size(); ++j) {
    EXPECT_EQ(a.ctxs[j].id, b.ctxs[j].id);
    EXPECT_EQ(a.ctxs[j].title, b.ctxs[j].title);
    EXPECT_EQ(a.ctxs[j].text, b.ctxs[j].text);
    EXPECT_EQ(a.ctxs[j].has_score, b.ctxs[j].has_score);
    EXPECT_EQ(a.ctxs[j].score, b.ctxs[j].score);  // shortest round-trip text: exact
    EXPECT_EQ(a.ctxs[j].hasanswer, b.ctxs[j].hasanswer);
  }
}

class RoundTrip : public ::testing::TestWithParam<DatasetFormat> {};

TEST_P(RoundTrip, WriteThenReadGivesTheSameExamples) {
  testing::TempDir dir;
  std::vector<Example> examples;
  for (int i = 0; i < 7; ++i) examples.push_back(make_example(i, i % 4));
  const std::string path = dir.file("data.json");
  write_examples(path, examples, GetParam());
  // The output is valid JSON for an independent parser too.
  const std::string text = read_file(path);
  if (GetParam() == DatasetFormat::kJsonArray) {
    EXPECT_EQ(json::parse(text).size(), 7u);
  } else {
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 7);
  }
  ExampleReader reader(path);
  EXPECT_EQ(reader.format(), GetParam());
  Example ex;
  int n = 0;
  while (reader.next(ex)) {
    ASSERT_LT(n, 7);
    EXPECT_EQ(reader.index(), n);
    expect_same(examples[n++], ex);
  }
  EXPECT_EQ(n, 7);
  EXPECT_EQ(count_examples(path), 7);
}

TEST_P(RoundTrip, ExamplesLargerThanTheBufferAreRead) {
  testing::TempDir dir;
  std::vector<Example> examples;
  for (int i = 0; i < 5; ++i) examples.push_back(make_example(i, 6, 3000 + 1000 * i));
  const std::string path = dir.file("big.json");
  write_examples(path, examples, GetParam());
  ReaderOptions opt;
  opt.buffer_bytes = 4096;  // every example spans several buffer loads
  auto got = read_examples(path, opt);
  ASSERT_EQ(got.size(), examples.size());
  for (size_t i = 0; i < got.size(); ++i) expect_same(examples[i], got[i]);
}

TEST_P(RoundTrip, ShardsByIndexPartitionTheDataset) {
  testing::TempDir dir;
  std::vector<Example> examples;
  for (int i = 0; i < 11; ++i) examples.push_back(make_example(i, 2));
  const std::string path = dir.file("d.json");
  write_examples(path, examples, GetParam());
  std::set<std::string> seen;
  for (int rank = 0; rank < 3; ++rank) {
    ReaderOptions opt;
    opt.shard_rank = rank;
    opt.shard_world = 3;
    ExampleReader reader(path, opt);
    Example ex;
    int n = 0;
    while (reader.next(ex)) {
      EXPECT_EQ(reader.index() % 3, rank);
      EXPECT_EQ(ex.id, examples[reader.index()].id);
      EXPECT_TRUE(seen.insert(ex.id).second) << ex.id;
      ++n;
    }
    EXPECT_EQ(n, rank < 2 ? 4 : 3);
  }
  EXPECT_EQ(seen.size(), 11u);
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip,
                         ::testing::Values(DatasetFormat::kJsonArray, DatasetFormat::kJsonLines));

TEST(ExampleReader, PrettyListWithTrickyStringsAndUnknownFields) {
  testing::TempDir dir;
  json data = json::array();
  data.push_back({{"id", 17},
                  {"question", "q0 ]}{["},
                  {"extra", {{"nested", json::array({"}\"{", "\\", 1, json::object()})}}},
                  {"answers", {"a\\\"b"}},
                  {"ctxs", {{{"id", "wiki:3"}, {"title", "t"}, {"text", "x}"}, {"score", "12.5"}},
                            {{"id", 4}, {"title", "u"}, {"text", "y"}, {"hasanswer", true},
                             {"score", nullptr}}}}});
  data.push_back({{"question", "second"}, {"target", nullptr}});
  testing::write_text(dir.file("p.json"), "\xEF\xBB\xBF  \n" + data.dump(4) + "\n\n");
  auto got = read_examples(dir.file("p.json"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "17");
  EXPECT_EQ(got[0].question, "q0 ]}{[");
  EXPECT_EQ(got[0].answers, std::vector<std::string>{"a\\\"b"});
  ASSERT_EQ(got[0].ctxs.size(), 2u);
  EXPECT_EQ(got[0].ctxs[0].id, "wiki:3");
  EXPECT_TRUE(got[0].ctxs[0].has_score);
  EXPECT_DOUBLE_EQ(got[0].ctxs[0].score, 12.5);
  EXPECT_EQ(got[0].ctxs[0].hasanswer, -1);
  EXPECT_EQ(got[0].ctxs[1].id, "4");
  EXPECT_FALSE(got[0].ctxs[1].has_score);
  EXPECT_EQ(got[0].ctxs[1].hasanswer, 1);
  EXPECT_EQ(got[1].id, "1");  // no id: the example index
  EXPECT_FALSE(got[1].has_target);
  EXPECT_TRUE(got[1].ctxs.empty());
}

TEST(ExampleReader, JsonLinesWithBlankLinesAndCrlf) {
  testing::TempDir dir;
  testing::write_text(dir.file("d.jsonl"),
                      "{\"id\":\"a\",\"question\":\"x\"}\r\n\r\n  \n{\"id\":\"b\",\"question\":\"y\"}");
  auto got = read_examples(dir.file("d.jsonl"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].id, "b");
  EXPECT_EQ(got[1].question, "y");
}

TEST(ExampleReader, EmptyFilesHoldNoExamples) {
  testing::TempDir dir;
  testing::write_text(dir.file("a.json"), "  [ \n ]  \n");
  testing::write_text(dir.file("b.jsonl"), "");
  EXPECT_EQ(count_examples(dir.file("a.json")), 0);
  EXPECT_EQ(count_examples(dir.file("b.jsonl")), 0);
}

TEST(ExampleReader, NContextKeepsTheFirstPassages) {
  testing::TempDir dir;
  write_examples(dir.file("d.json"), {make_example(0, 5)}, DatasetFormat::kJsonLines);
  ReaderOptions opt;
  opt.n_context = 2;
  auto got = read_examples(dir.file("d.json"), opt);
  ASSERT_EQ(got[0].ctxs.size(), 2u);
  EXPECT_EQ(got[0].ctxs[1].id, "1");
}

// FiD's Dataset(n_context=3) sorts ctxs by score, then keeps three; the
// fixture holds the passages it formatted. The ctxs are shuffled here and a
// low-scored one (a numeric string, as DPR writes) is added in front.
TEST(ExampleReader, SortByScoreMatchesFidDataset) {
  const json fixture = read_json_file(testing::fixtures_dir() + "/fid_inputs.json");
  json raw = fixture["raw_examples"];
  for (auto& ex : raw) {
    json ctxs = json::array({{{"title", "Low"}, {"text", "z"}, {"score", "0.1"}}});
    for (auto it = ex["ctxs"].rbegin(); it != ex["ctxs"].rend(); ++it) ctxs.push_back(*it);
    ex["ctxs"] = ctxs;
  }
  testing::TempDir dir;
  testing::write_text(dir.file("raw.json"), raw.dump());
  ReaderOptions opt;
  opt.n_context = fixture["n_context"].get<int64_t>();
  opt.sort_by_score = true;
  auto got = read_examples(dir.file("raw.json"), opt);
  ASSERT_EQ(got.size(), fixture["formatted_passages"].size());
  for (size_t b = 0; b < got.size(); ++b) {
    const auto& want = fixture["formatted_passages"][b];
    ASSERT_EQ(got[b].ctxs.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      const auto& c = got[b].ctxs[k];
      EXPECT_EQ("title: " + c.title + " context: " + c.text, want[k].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace fid::data
