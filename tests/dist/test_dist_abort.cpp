// One failing rank must end the whole job promptly (no peer left waiting in
// a collective), and make_world must see the launcher's placement.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "support/test_util.h"

namespace {

struct Launch {
  int status;
  double seconds;
  std::string output;
};

// `timeout` is only a backstop for a hang (it exits 124): the assertions want
// far less time than it allows.
Launch launch(int ranks, const std::string& mode) {
  const std::string cmd = std::string("timeout -k 10 90 ") + FID_MPIEXEC + " -n " +
                          std::to_string(ranks) + " --oversubscribe " + FID_DIST_CHILD + " " + mode;
  auto start = std::chrono::steady_clock::now();
  Launch r;
  r.status = fid::testing::run_command(cmd, &r.output);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void expect_job_ended(const Launch& r) {
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.status, 124) << "the job hung until the backstop stopped it:\n" << r.output;
  EXPECT_LT(r.seconds, 30.0) << r.output;
  // Rank 0 must never get past the collective its peer abandoned.
  EXPECT_EQ(r.output.find("rank 0 left its collective"), std::string::npos) << r.output;
}

TEST(DistAbort, AbortOnOneRankEndsTheJob) {
  Launch r = launch(2, "abort");
  expect_job_ended(r);
  EXPECT_EQ(r.status, 3) << "mpiexec should pass on the abort code\n" << r.output;
}

TEST(DistAbort, ErrorOnOneRankIsLoggedAndEndsTheJob) {
  Launch r = launch(2, "throw");
  expect_job_ended(r);
  EXPECT_NE(r.output.find("rank 1 failed on purpose"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 1]"), std::string::npos) << r.output;
}

TEST(DistAbort, SigkillOfOneRankEndsTheJob) {
  Launch r = launch(2, "sigkill");
  expect_job_ended(r);
}

TEST(DistWorld, ThreeRanksKnowTheirPlace) {
  Launch r = launch(3, "world");
  ASSERT_EQ(r.status, 0) << r.output;
  std::istringstream in(r.output);
  std::string line;
  std::set<int> ranks;
  while (std::getline(in, line)) {
    if (line.rfind("rank ", 0) != 0) continue;
    int rank, size, local, local_size, launched, threads;
    char backend[16];
    ASSERT_EQ(std::sscanf(line.c_str(), "rank %d size %d local %d of %d backend %15s launched %d threads %d",
                          &rank, &size, &local, &local_size, backend, &launched, &threads), 7)
        << line;
    EXPECT_EQ(size, 3);
    EXPECT_EQ(local_size, 3);
    EXPECT_EQ(local, rank) << "one node: local rank equals world rank";
    EXPECT_STREQ(backend, "mpi");
    EXPECT_EQ(launched, 1);
    EXPECT_GE(threads, 1);
    ranks.insert(rank);
  }
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2})) << r.output;
}

TEST(DistWorld, WithoutLauncherIsAWorldOfOne) {
  Launch r{0, 0, ""};
  r.status = fid::testing::run_command(
      std::string("env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE ") +
          FID_DIST_CHILD + " world",
      &r.output);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("rank 0 size 1 local 0 of 1 backend local launched 0"),
            std::string::npos)
      << r.output;
}

}  // namespace
