#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/progress.h"
#include "common/system.h"
#include "support/test_util.h"

namespace fid {
namespace {

TEST(Error, CheckCarriesMessageConditionAndPlace) {
  try {
    int n_context = 0;
    FID_CHECK(n_context > 0, "--n_context must be positive, got ", n_context);
    FAIL() << "no throw";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("--n_context must be positive, got 0"), std::string::npos) << what;
    EXPECT_NE(what.find("n_context > 0"), std::string::npos) << what;
    EXPECT_NE(what.find("test_common.cpp"), std::string::npos) << what;
  }
}

TEST(Error, CheckEqShowsBothValues) {
  try {
    FID_CHECK_EQ(3, 4, "dim mismatch");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3 vs 4)"), std::string::npos) << e.what();
  }
}

TEST(Files, AtomicWriteReplacesWholeFileAndLeavesNoTemporary) {
  testing::TempDir dir;
  std::string path = dir.file("a.json");
  write_json_atomic(path, nlohmann::json{{"x", 1}});
  write_json_atomic(path, nlohmann::json{{"x", 2}});
  EXPECT_EQ(read_json_file(path)["x"].get<int>(), 2);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) { (void)e; ++files; }
  EXPECT_EQ(files, 1);
}

TEST(Files, MissingFileErrorNamesIt) {
  try {
    read_file("/nonexistent/dir/passages.tsv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/passages.tsv"), std::string::npos);
  }
}

TEST(Files, ReadsFilesWithoutASize) {
  // /proc files report no size; they must still be read whole.
  EXPECT_NE(read_file("/proc/self/status").find("VmRSS"), std::string::npos);
}

TEST(Files, InvalidJsonErrorNamesFile) {
  testing::TempDir dir;
  testing::write_text(dir.file("bad.json"), "{\"a\": [1, 2");
  try {
    read_json_file(dir.file("bad.json"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos);
  }
}

TEST(Files, FingerprintChangesWithContent) {
  testing::TempDir dir;
  testing::write_text(dir.file("p.tsv"), "id\ttext\ttitle\n1\tabc\tT\n");
  std::string a = file_fingerprint(dir.file("p.tsv"));
  testing::write_text(dir.file("p.tsv"), "id\ttext\ttitle\n1\tabd\tT\n");
  EXPECT_NE(a, file_fingerprint(dir.file("p.tsv")));
  EXPECT_EQ(file_fingerprint(dir.file("p.tsv")), file_fingerprint(dir.file("p.tsv")));
}

TEST(Progress, LineReportsCountsAndEta) {
  Progress p("embedding", 100, "passages", 1e9);
  p.add(25);
  std::string line = p.line();
  EXPECT_NE(line.find("25/100 passages"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA"), std::string::npos) << line;
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(75), "1m15s");
}

TEST(System, RssIsPositiveAndPeakAtLeastCurrent) {
  EXPECT_GT(current_rss_bytes(), 0);
  EXPECT_GE(peak_rss_bytes(), current_rss_bytes());
}

}  // namespace
}  // namespace fid
