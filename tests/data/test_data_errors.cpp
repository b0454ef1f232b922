// Each kind of bad dataset gets a fid::Error naming the file, the example
// (index and line) and the field.
#include <gtest/gtest.h>

#include "data/example_reader.h"
#include "error_helpers.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

using test::error_of;
using test::expect_mentions;

// Reads every example of a file written with `text`; returns the error.
std::string read_error(const std::string& text, ReaderOptions opt = {}, const char* name = "d.json") {
  testing::TempDir dir;
  const std::string path = dir.file(name);
  testing::write_text(path, text);
  const std::string message = error_of([&] { read_examples(path, opt); });
  EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << "file not named: " << message;
  return message;
}

const char* kGood = R"({"id": "a", "question": "q", "ctxs": [{"title": "t", "text": "x"}]})";

TEST(DatasetErrors, TruncatedList) {
  auto m = read_error(std::string("[\n") + kGood + ",\n" + R"({"id": "b", "question": "cut)");
  expect_mentions(m, {"example 1", "line 3", "not closed", "in field 'question'", "truncated"});
  m = read_error(std::string("[") + kGood);
  expect_mentions(m, {"list is not closed", "line 1"});
}

TEST(DatasetErrors, TruncatedJsonLine) {
  auto m = read_error(std::string(kGood) + "\n" + R"({"id": "b", "question": "q", "answers": ["x")");
  expect_mentions(m, {"example 1 (line 2)", "field 'answers", "not valid JSON"});
}

TEST(DatasetErrors, InvalidJsonNamesTheField) {
  auto m = read_error(std::string(kGood) + "\n\n" +
                      R"({"id": "b", "question": "q", "ctxs": [{"title": "t", "text": x}]})");
  expect_mentions(m, {"example 1 (line 3)", "field 'ctxs[0].text'", "not valid JSON"});
  m = read_error("[" + std::string(kGood) + " x]");
  expect_mentions(m, {"expected ',' or ']' after example 0"});
  m = read_error("[" + std::string(kGood) + ",]");
  expect_mentions(m, {"example 1", "not a JSON object"});
  m = read_error("[" + std::string(kGood) + "] trailing");
  expect_mentions(m, {"after the closing ']'"});
  m = read_error("question,answers\n");
  expect_mentions(m, {"line 1", "must start with '['"});
  m = read_error(std::string(kGood) + "\n[1, 2]\n");
  expect_mentions(m, {"line 2", "example 1 is not a JSON object"});
}

TEST(DatasetErrors, WrongFieldTypes) {
  auto m = read_error(R"([{"id": "a", "question": 12}])");
  expect_mentions(m, {"example 0 (line 1)", "field 'question' must be a string, got a number"});
  m = read_error(R"({"question": "q", "answers": "Paris"})");
  expect_mentions(m, {"example 0 (line 1)", "field 'answers' must be a list of strings, got a string"});
  m = read_error(std::string(kGood) + "\n" + R"({"question": "q", "answers": ["a", 3]})");
  expect_mentions(m, {"example 1 (line 2)", "field 'answers[1]' must be a string, got a number"});
  m = read_error(R"({"question": "q", "ctxs": [{"title": "t", "text": "x"}, {"title": "t", "text": "y", "score": true}]})");
  expect_mentions(m, {"field 'ctxs[1].score' must be a number or a numeric string, got a boolean"});
  m = read_error(R"({"question": "q", "ctxs": [{"title": "t", "text": "x", "score": "high"}]})");
  expect_mentions(m, {"field 'ctxs[0].score' is \"high\", which is not a number"});
  m = read_error(R"({"question": "q", "ctxs": [{"title": "t", "text": "x", "hasanswer": "yes"}]})");
  expect_mentions(m, {"field 'ctxs[0].hasanswer' must be true or false, got a string"});
  m = read_error(R"({"id": 1.5, "question": "q"})");
  expect_mentions(m, {"field 'id' must be a string or an integer, got a number"});
  m = read_error(R"({"question": "q", "ctxs": {"title": "t"}})");
  expect_mentions(m, {"field 'ctxs' must be a list of passages, got an object"});
  m = read_error(R"({"question": "q", "ctxs": ["passage"]})");
  expect_mentions(m, {"field 'ctxs[0]' must be an object, got a string"});
  m = read_error(R"({"question": "q", "ctxs": [{"title": "t"}]})");
  expect_mentions(m, {"field 'ctxs[0].text' is missing"});
}

TEST(DatasetErrors, MissingQuestion) {
  auto m = read_error(std::string("[") + kGood + ",\n  " + R"({"id": "b", "answers": ["x"]}])");
  expect_mentions(m, {"example 1 (line 2)", "field 'question' is missing"});
}

TEST(DatasetErrors, EmptyCtxsWhenRequired) {
  ReaderOptions opt;
  opt.require_ctxs = true;
  auto m = read_error(std::string(kGood) + "\n" + R"({"id": "b", "question": "q", "ctxs": []})", opt);
  expect_mentions(m, {"example 1 (line 2)", "field 'ctxs' is missing or empty"});
  m = read_error(R"({"id": "b", "question": "q"})", opt);
  expect_mentions(m, {"example 0 (line 1)", "field 'ctxs' is missing or empty"});
  // Without the requirement the same examples are fine.
  testing::TempDir dir;
  testing::write_text(dir.file("ok.jsonl"), R"({"id": "b", "question": "q", "ctxs": []})");
  EXPECT_EQ(read_examples(dir.file("ok.jsonl")).size(), 1u);
}

TEST(DatasetErrors, InvalidUtf8NamesTheField) {
  auto m = read_error(std::string(kGood) + "\n" + kGood + "\n" +
                      "{\"question\": \"q\", \"ctxs\": [{\"title\": \"t\", \"text\": \"x\"}, "
                      "{\"title\": \"t\", \"text\": \"caf\xE9\"}]}\n");
  expect_mentions(m, {"example 2 (line 3)", "field 'ctxs[1].text' holds invalid UTF-8", "0xE9"});
  // In a pretty-printed list the line is that of the example's start.
  m = read_error(std::string("[\n") + kGood + ",\n{\n  \"question\": \"q\",\n  \"target\": \"\xC0\xAF\"\n}\n]");
  expect_mentions(m, {"example 1 (line 3)", "field 'target' holds invalid UTF-8", "0xC0"});
  // Surrogates written as escapes are not text either.
  m = read_error(R"({"question": "bad \udc00 half"})");
  expect_mentions(m, {"example 0 (line 1)", "field 'question'"});
}

TEST(DatasetErrors, MissingFile) {
  auto m = error_of([] { read_examples("/nonexistent/dir/train.jsonl"); });
  expect_mentions(m, {"cannot open dataset '/nonexistent/dir/train.jsonl'", "No such file"});
  m = error_of([] { count_examples("/nonexistent/dir/train.jsonl"); });
  expect_mentions(m, {"/nonexistent/dir/train.jsonl"});
}

TEST(DatasetErrors, BadShardIsRefused) {
  ReaderOptions opt;
  opt.shard_rank = 2;
  opt.shard_world = 2;
  auto m = error_of([&] { ExampleReader r("/whatever.json", opt); });
  expect_mentions(m, {"shard 2 of 2"});
}

}  // namespace
}  // namespace fid::data
