#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/progress.h"
#include "common/run_lock.h"
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

// The lock of an earlier run of this same SLURM job (requeued, possibly to
// another host) is taken over; one of another job, or of the same run on
// another host, is refused naming the holder.
TEST(RunLockTest, AnEarlierRunOfThisSlurmJobIsTakenOverOthersAreRefused) {
  fid::testing::TempDir dir;
  auto with_env = [](const char* job, const char* restart) {
    setenv("SLURM_JOB_ID", job, 1);
    setenv("SLURM_RESTART_COUNT", restart, 1);
  };
  const std::string lock = dir.file(".fid.lock");
  // Held by run 0 of job 4242 on a host this process cannot check.
  fid::testing::write_text(lock, "node-elsewhere 12345 999 4242 0\n");
  with_env("4242", "0");  // the same run: not a requeue
  std::string e = fid::testing::error_of([&] { fid::RunLock l(dir.path(), "--output_path"); });
  EXPECT_NE(e.find("in use by another job (node-elsewhere pid 12345"), std::string::npos) << e;
  with_env("777", "3");  // another job
  e = fid::testing::error_of([&] { fid::RunLock l(dir.path(), "--output_path"); });
  EXPECT_NE(e.find("in use by another job"), std::string::npos) << e;
  with_env("4242", "1");  // requeued once: takes it over, holds it, removes it at the end
  {
    fid::RunLock l(dir.path(), "--output_path");
    const std::string held = fid::read_file(lock);
    EXPECT_NE(held.find(" 4242 1\n"), std::string::npos) << held;
  }
  EXPECT_FALSE(fid::path_exists(lock));
  unsetenv("SLURM_JOB_ID");
  unsetenv("SLURM_RESTART_COUNT");
}
