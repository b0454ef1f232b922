// A scheduler's notice (SIGUSR1 or SIGTERM, as SLURM sends before it
// preempts a job or its time runs out) stops a training run at the next step
// boundary on every rank, with a checkpoint, and exit status 75 (the batch
// scripts requeue on it); running the same command again resumes and ends
// with the weights of an uninterrupted run.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "cli/reader_workspace.h"

namespace fid::testing {
namespace {

ReaderWorkspace& workspace() {
  static ReaderWorkspace ws;
  return ws;
}

int64_t logged_steps(const std::string& run) {
  const std::string path = workspace().path("ck/" + run + "/metrics.jsonl");
  if (!path_exists(path)) return 0;
  std::istringstream in(read_file(path));
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Starts `name` in the background, signals one of its ranks once a few steps
// are logged, and returns the job's exit status and log.
int interrupted_run(const std::string& name, const std::string& opts, const char* sig, std::string* log) {
  auto& ws = workspace();
  const std::string rc_file = ws.path(name + ".rc"), log_file = ws.path(name + ".log");
  const std::string cmd = ws.train_command(2, name, opts);
  EXPECT_EQ(std::system(("(" + cmd + " > " + log_file + " 2>&1; echo $? > " + rc_file + ") &").c_str()), 0);
  const auto start = std::chrono::steady_clock::now();
  while (logged_steps(name) < 3) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(120)) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string pids;
  run_command("pgrep -f '^" + fid_binary() + " train-reader .*--name " + name + " '", &pids);
  EXPECT_FALSE(pids.empty());
  // One rank only, the last one listed: its peer learns of it at the next step.
  std::string victim = pids.substr(0, pids.size() - 1);
  victim = victim.substr(victim.rfind('\n') + 1);
  EXPECT_EQ(run_command(std::string("kill -") + sig + " " + victim), 0);
  while (!path_exists(rc_file) || read_file(rc_file).empty()) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(240)) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *log = read_file(log_file);
  return std::stoi(read_file(rc_file));
}

TEST(Preemption, SignalSavesAtTheNextStepAndTheRerunEqualsAnUninterruptedRun) {
  auto& ws = workspace();
  const std::string opts = "--total_steps 300 --save_freq 1000 --eval_freq 1000 --per_gpu_batch_size 1 --seed 3";
  run_ok(ws.train_command(2, "whole", opts));
  for (const char* sig : {"USR1", "TERM"}) {
    SCOPED_TRACE(sig);
    const std::string name = std::string("stopped") + sig;
    std::string log;
    const int rc = interrupted_run(name, opts, sig, &log);
    ASSERT_EQ(rc, 75) << log;
    EXPECT_NE(log.find("on request (SIG" + std::string(sig) + ")"), std::string::npos) << log;
    EXPECT_NE(log.find("a peer's signal"), std::string::npos) << "the other rank did not stop with it:\n" << log;
    const int64_t at = logged_steps(name);
    ASSERT_LT(at, 300) << "the run ended before the signal; nothing was tested";
    ASSERT_TRUE(path_exists(ws.checkpoint(name, "step-" + std::to_string(at)))) << log;
    const std::string out = run_ok(ws.train_command(2, name, opts));
    EXPECT_NE(out.find("resuming"), std::string::npos) << out;
    EXPECT_TRUE(same_weights(ws.checkpoint(name, "step-300") + "/model.safetensors",
                             ws.checkpoint("whole", "step-300") + "/model.safetensors"));
  }
}

}  // namespace
}  // namespace fid::testing
