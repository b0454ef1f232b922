#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/files.h"
#include "support/test_util.h"
#include "train/run_log.h"

namespace fid::train {
namespace {

TEST(RunLog, Crc32cKnownVector) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c(s, std::strlen(s)), 0xE3069283u);
}

// Reads back TFRecord framing: every record's length and CRCs must verify.
TEST(RunLog, EventFileRecordsAreFramedAndScalarsPresent) {
  testing::TempDir dir;
  std::string path;
  {
    TensorBoardWriter tb(dir.path());
    tb.add_scalar("Training", 1.25, 7);
    tb.add_scalar("Evaluation", 0.5, 8);
    path = tb.path();
  }
  std::string data = read_file(path);
  size_t off = 0;
  int records = 0;
  while (off < data.size()) {
    ASSERT_LE(off + 12, data.size());
    uint64_t len;
    std::memcpy(&len, data.data() + off, 8);
    uint32_t len_crc;
    std::memcpy(&len_crc, data.data() + off + 8, 4);
    uint32_t c = crc32c(data.data() + off, 8);
    EXPECT_EQ(len_crc, ((c >> 15) | (c << 17)) + 0xa282ead8u);
    ASSERT_LE(off + 12 + len + 4, data.size());
    ++records;
    off += 12 + len + 4;
  }
  EXPECT_EQ(off, data.size());
  EXPECT_EQ(records, 3);
  EXPECT_NE(data.find("Training"), std::string::npos);
  float v = 1.25f;
  EXPECT_NE(data.find(std::string(reinterpret_cast<char*>(&v), 4)), std::string::npos);
}

TEST(RunLog, MetricsJsonlHasOneLinePerLog) {
  testing::TempDir dir;
  RunLogger log(dir.path(), 0);
  log.log(1, {{"loss", 2.5}, {"lr", 1e-4}});
  log.log(2, {{"loss", 2.0}});
  std::ifstream in(dir.file("metrics.jsonl"));
  std::string l1, l2, l3;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_FALSE(std::getline(in, l3));
  EXPECT_EQ(l1, R"({"loss":2.5,"lr":0.0001,"step":1})");
  EXPECT_EQ(l2, R"({"loss":2.0,"step":2})");
}

// A run resumed from its step-2 checkpoint logs steps 3 and 4 again: the
// records the interrupted run wrote after step 2 (and a line torn by the
// kill) are dropped first, so each step appears once.
TEST(RunLog, ResumedRunDropsTheRecordsAfterItsCheckpoint) {
  testing::TempDir dir;
  {
    RunLogger log(dir.path(), 0);
    for (int64_t s = 1; s <= 4; ++s) log.log(s, {{"loss", 1.0 / static_cast<double>(s)}});
  }
  std::ofstream(dir.file("metrics.jsonl"), std::ios::app) << R"({"loss":0.1,"st)";
  {
    RunLogger log(dir.path(), 2);
    log.log(3, {{"loss", 0.5}});
  }
  std::ifstream in(dir.file("metrics.jsonl"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], R"({"loss":1.0,"step":1})");
  EXPECT_EQ(lines[1], R"({"loss":0.5,"step":2})");
  EXPECT_EQ(lines[2], R"({"loss":0.5,"step":3})");
}

}  // namespace
}  // namespace fid::train
