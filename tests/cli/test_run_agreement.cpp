// A job's ranks run one command, and a resumed run continues the run it
// resumes: ranks started with other options are refused before any
// collective (they would diverge, or wait forever in an all-reduce), and a
// rerun under the same --name with other options is refused unless the
// changed options are named in --allow_resume_changes.
#include <gtest/gtest.h>

#include "common/files.h"
#include "cli/reader_workspace.h"

namespace fid::testing {
namespace {

ReaderWorkspace& workspace() {
  static ReaderWorkspace ws;
  return ws;
}

// Under a timeout: a hang in a collective fails the test instead of the suite.
int run_limited(const std::string& command, std::string* out) {
  return run_command("timeout 120 " + command, out);
}

TEST(RunAgreement, RanksStartedWithOtherOptionsAreRefusedNamingTheOption) {
  auto& ws = workspace();
  const std::string common = "--save_freq 2 --eval_freq 1000 --per_gpu_batch_size 1";
  // Rank 1 with more steps than rank 0 used to leave rank 0 in finalize and
  // rank 1 in an all-reduce, forever.
  std::string out;
  int rc = run_limited(mpi_launch_each({ws.train_command(1, "steps", common + " --total_steps 4"),
                                        ws.train_command(1, "steps", common + " --total_steps 6")}),
                       &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(rc, 124) << "the job hung\n" << out;
  EXPECT_NE(out.find("different command-line options"), std::string::npos) << out;
  EXPECT_NE(out.find("--total_steps: rank 0 '4', rank 1 '6'"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(ws.checkpoint("steps", "latest"))) << "a step ran before the check";

  // Another seed trains a silently diverging replica: refused the same way.
  rc = run_limited(mpi_launch_each({ws.train_command(1, "seed", common + " --total_steps 2"),
                                    ws.train_command(1, "seed", common + " --total_steps 2 --seed 5")}),
                   &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--seed: rank 0 (not given), rank 1 '5'"), std::string::npos) << out;

  // The same path naming different files on two nodes (no shared file
  // system): each rank runs in its own directory with its own train.jsonl.
  for (const char* d : {"node0", "node1"}) make_directories(ws.path(d));
  const std::string train = read_file(ws.path("train.jsonl"));
  write_text(ws.path("node0/train.jsonl"), train);
  write_text(ws.path("node1/train.jsonl"), train.substr(0, train.rfind('\n', train.size() - 2) + 1));
  auto in_dir = [&](const std::string& dir) {
    std::string c = ws.train_command(1, "inputs", common + " --total_steps 2");
    c.replace(c.find(ws.path("train.jsonl")), ws.path("train.jsonl").size(), "train.jsonl");
    return "cd " + ws.path(dir) + " && " + c;
  };
  rc = run_limited(mpi_launch_each({in_dir("node0"), in_dir("node1")}), &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("--train_data (bytes of train.jsonl): rank 0 '" + std::to_string(train.size()) + "'"),
            std::string::npos) << out;

  // --threads may differ per rank (nodes with other core counts).
  std::string two_threads = ws.train_command(1, "threads", common + " --total_steps 2");
  two_threads.replace(two_threads.find("--threads 1"), 11, "--threads 2");
  rc = run_limited(mpi_launch_each({ws.train_command(1, "threads", common + " --total_steps 2"), two_threads}),
                   &out);
  EXPECT_EQ(rc, 0) << out;
}

TEST(RunAgreement, ResumeWithOtherOptionsIsRefusedUnlessNamed) {
  auto& ws = workspace();
  const std::string base = "--save_freq 2 --eval_freq 1000 --per_gpu_batch_size 1 --seed 3";
  run_ok(ws.train_command(1, "resume", base + " --total_steps 4"));
  ASSERT_TRUE(path_exists(ws.checkpoint("resume", "step-4")));

  std::string out;
  // Another batch size, another training set: both named, nothing trained.
  EXPECT_NE(run_limited(ws.train_command(1, "resume", "--save_freq 2 --eval_freq 1000 --per_gpu_batch_size 2 "
                                                      "--seed 3 --total_steps 6"),
                        &out),
            0);
  EXPECT_NE(out.find("other options than it was started with"), std::string::npos) << out;
  EXPECT_NE(out.find("--per_gpu_batch_size: was '1', now '2'"), std::string::npos) << out;
  EXPECT_NE(out.find("--total_steps: was '4', now '6'"), std::string::npos) << out;
  EXPECT_NE(out.find("--allow_resume_changes"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(ws.checkpoint("resume", "step-6")));

  // Naming one change is not enough when two were made.
  EXPECT_NE(run_limited(ws.train_command(1, "resume", "--save_freq 2 --eval_freq 1000 --per_gpu_batch_size 2 "
                                                      "--seed 3 --total_steps 6 --allow_resume_changes total_steps"),
                        &out),
            0);
  EXPECT_NE(out.find("--per_gpu_batch_size: was '1', now '2'"), std::string::npos) << out;
  EXPECT_EQ(out.find("--total_steps: was"), std::string::npos) << out;

  // Reporting options change freely; a named change goes on from step 4.
  out = run_ok(ws.train_command(1, "resume", "--save_freq 1 --eval_freq 500 --per_gpu_batch_size 1 --seed 3 "
                                                "--total_steps 6 --allow_resume_changes total-steps"));
  EXPECT_NE(out.find("resuming"), std::string::npos) << out;
  EXPECT_TRUE(path_exists(ws.checkpoint("resume", "step-6")));
  EXPECT_FALSE(path_exists(ws.checkpoint("resume", "step-2.tmp")));
}

}  // namespace
}  // namespace fid::testing
