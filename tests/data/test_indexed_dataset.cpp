// Random access to examples equals the streaming reader, in both formats.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "data/indexed_dataset.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

std::vector<Example> examples(int n) {
  std::vector<Example> out;
  for (int i = 0; i < n; ++i) {
    Example ex;
    ex.id = "q" + std::to_string(i);
    ex.question = "question " + std::to_string(i) + " \"quoted\"";
    ex.answers = {"a" + std::to_string(i)};
    for (int j = 0; j < 4; ++j) {
      Context c;
      c.id = std::to_string(i * 10 + j);
      c.title = "t" + std::to_string(j);
      c.text = std::string(static_cast<size_t>(5 + (i * 7 + j) % 50), 'x');
      c.score = static_cast<double>((i + 3 * j) % 5);  // unsorted scores
      c.has_score = true;
      ex.ctxs.push_back(c);
    }
    out.push_back(ex);
  }
  return out;
}

TEST(IndexedDataset, RandomAccessEqualsStreamingInBothFormats) {
  testing::TempDir dir;
  auto all = examples(57);
  for (auto format : {DatasetFormat::kJsonArray, DatasetFormat::kJsonLines}) {
    const std::string path = dir.file(format == DatasetFormat::kJsonArray ? "a.json" : "a.jsonl");
    write_examples(path, all, format);
    ReaderOptions ro;
    ro.n_context = 2;
    ro.sort_by_score = true;
    ro.buffer_bytes = 256;  // elements cross buffer refills
    auto streamed = read_examples(path, ro);
    IndexedDataset ds(path, ro);
    ASSERT_EQ(ds.size(), 57);
    Example ex;
    for (int64_t i : {56, 0, 31, 7, 7, 55}) {
      ds.get(i, ex);
      const Example& s = streamed[static_cast<size_t>(i)];
      EXPECT_EQ(ex.id, s.id);
      EXPECT_EQ(ex.question, s.question);
      ASSERT_EQ(ex.ctxs.size(), 2u);
      for (size_t j = 0; j < 2; ++j) {
        EXPECT_EQ(ex.ctxs[j].id, s.ctxs[j].id);
        EXPECT_EQ(ex.ctxs[j].score, s.ctxs[j].score);
        EXPECT_EQ(ex.ctxs[j].text, s.ctxs[j].text);
      }
      EXPECT_GE(ex.ctxs[0].score, ex.ctxs[1].score);
    }
  }
}

TEST(IndexedDataset, ErrorsNameTheFileAndExample) {
  testing::TempDir dir;
  testing::write_text(dir.file("d.jsonl"),
                      "{\"question\": \"ok\"}\n{\"question\": 3}\n");
  IndexedDataset ds(dir.file("d.jsonl"));
  Example ex;
  ds.get(0, ex);
  EXPECT_EQ(ex.question, "ok");
  try {
    ds.get(1, ex);
    FAIL() << "wrong field type accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("d.jsonl"), std::string::npos) << m;
    EXPECT_NE(m.find("question"), std::string::npos) << m;
  }
  try {
    ds.get(2, ex);
    FAIL() << "out of range accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fid::data
