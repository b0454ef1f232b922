// test-reader and train-reader refuse what would run on nothing or with an
// impossible setting, naming the flag or the file, instead of exiting 0 with
// zero passages, an empty question file or an out-of-range dropout; a
// damaged checkpoint is refused by every command that loads it; a disk that
// fills up while a checkpoint is written gives a clean error, leaves nothing
// half-written, and the rerun resumes to the uninterrupted run's weights.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/files.h"
#include "cli/reader_workspace.h"

namespace fid::testing {
namespace {

ReaderWorkspace& workspace() {
  static ReaderWorkspace ws;
  return ws;
}

// Fails unless `command` exits non-zero with `message` in its output.
void expect_refused(const std::string& command, const std::string& message) {
  std::string out;
  EXPECT_NE(run_command("timeout 120 " + command, &out), 0) << command << "\n" << out;
  EXPECT_NE(out.find(message), std::string::npos) << command << "\n" << out;
}

TEST(ReaderFaults, TestReaderOnNothingIsRefusedNamingTheFlagOrFile) {
  auto& ws = workspace();
  const std::string model = " --model_path " + ws.path("t5");
  // train_command's defaults evaluate 2 passages; these replace them.
  auto test = [&](const std::string& extra) {
    return mpi_launch(2) + fid_binary() + " test-reader --threads 1 --checkpoint_dir " + ws.path("ck") +
           " --name refuse --text_maxlength 48" + model + " " + extra;
  };
  const std::string dev = " --eval_data " + ws.path("dev.jsonl");
  expect_refused(test(dev + " --n_context 0"), "--n_context must be positive, got 0");
  expect_refused(test(dev + " --n_context -1"), "--n_context must be positive, got -1");
  expect_refused(test(dev + " --n_context 2 --per_gpu_batch_size 0"), "--per_gpu_batch_size must be positive, got 0");
  expect_refused(test(dev + " --n_context 2 --per_gpu_batch_size -3"), "--per_gpu_batch_size must be positive, got -3");
  write_text(ws.path("empty.jsonl"), "");
  expect_refused(test("--n_context 2 --eval_data " + ws.path("empty.jsonl")),
                 "--eval_data '" + ws.path("empty.jsonl") + "' holds no questions");
  EXPECT_FALSE(path_exists(ws.path("ck/refuse/eval_metrics.json")));
  // The same file with its questions evaluates (the refusals above are not
  // a model or flag problem).
  run_ok(test(dev + " --n_context 2"));
  EXPECT_TRUE(path_exists(ws.path("ck/refuse/eval_metrics.json")));
}

TEST(ReaderFaults, DropoutOutOfRangeIsNamedByItsFlag) {
  auto& ws = workspace();
  expect_refused(ws.train_command(1, "dropout", "--total_steps 1 --dropout 1.5"),
                 "--dropout: the dropout rate must be in [0, 1), got 1.5");
  expect_refused(ws.train_command(1, "dropout", "--total_steps 1 --dropout 1"), "got 1");
  EXPECT_FALSE(path_exists(ws.path("ck/dropout")));
}

// The checkpoint's hashes (trainer_state.json) are checked by test-reader
// too, not only by a resuming trainer.
TEST(ReaderFaults, DamagedCheckpointIsRefusedByTestReader) {
  auto& ws = workspace();
  run_ok(ws.train_command(1, "flipped", "--total_steps 2 --save_freq 2 --eval_freq 1000"));
  const std::string dir = ws.checkpoint("flipped", "step-2");
  run_ok(ws.test_command(1, "flipped-ok", "--model_path " + dir));
  std::string bytes = read_file(dir + "/model.safetensors");
  bytes[bytes.size() - 5] ^= 0x04;
  write_text(dir + "/model.safetensors", bytes);
  expect_refused(ws.test_command(2, "flipped-eval", "--model_path " + dir),
                 "checkpoint file '" + dir + "/model.safetensors' is corrupted");
}

// A malformed example at the end of --train_data or --eval_data fails the
// run before its first step (it used to fail at the step that drew it, or
// after all the training for --eval_data), naming the file.
TEST(ReaderFaults, MalformedExampleFailsTheRunBeforeItsFirstStep) {
  auto& ws = workspace();
  const std::string bad = R"({"id": "bad", "question": "q?", "answers": ["a"], "ctxs": 5})";
  write_text(ws.path("bad_train.jsonl"), read_file(ws.path("train.jsonl")) + bad + "\n");
  write_text(ws.path("bad_dev.jsonl"), read_file(ws.path("dev.jsonl")) + bad + "\n");
  std::string cmd = ws.train_command(2, "badtrain", "--total_steps 2 --save_freq 2 --eval_freq 2");
  cmd.replace(cmd.find(ws.path("train.jsonl")), ws.path("train.jsonl").size(), ws.path("bad_train.jsonl"));
  expect_refused(cmd, ws.path("bad_train.jsonl"));
  EXPECT_FALSE(path_exists(ws.path("ck/badtrain/metrics.jsonl"))) << "steps ran before the check";
  cmd = ws.train_command(2, "baddev", "--total_steps 2 --save_freq 2 --eval_freq 2 --eval_data " +
                                          ws.path("bad_dev.jsonl"));
  expect_refused(cmd, ws.path("bad_dev.jsonl"));
  EXPECT_FALSE(path_exists(ws.path("ck/baddev/metrics.jsonl"))) << "steps ran before the check";
  // A training example with neither target nor answers is found as early.
  write_text(ws.path("noanswer.jsonl"), read_file(ws.path("train.jsonl")) +
                                            R"({"id": "x", "question": "q?", "ctxs": [{"title": "t", "text": "u"}]})" + "\n");
  cmd = ws.train_command(2, "noanswer", "--total_steps 2 --save_freq 2 --eval_freq 1000");
  cmd.replace(cmd.find(ws.path("train.jsonl")), ws.path("train.jsonl").size(), ws.path("noanswer.jsonl"));
  expect_refused(cmd, "has neither `target` nor `answers`");
  EXPECT_FALSE(path_exists(ws.path("ck/noanswer/metrics.jsonl")));
}

// Where no tmpfs can be mounted, a file size limit stands for the disk: the
// first checkpoint's optimizer state then fails (EFBIG), and the rerun starts
// over instead of resuming.
TEST(ReaderFaults, FullDiskWhileCheckpointingIsACleanErrorAndTheRerunResumes) {
  const std::string why = cannot_mount_tmpfs();
  const bool tmpfs = why.empty();
  if (!tmpfs) std::printf("no tmpfs (%s): a file size limit stands for the full disk\n", why.c_str());
  auto& ws = workspace();
  const std::string opts = "--total_steps 6 --save_freq 2 --eval_freq 1000 --per_gpu_batch_size 1 --seed 3";
  run_ok(ws.train_command(1, "roomy", opts));
  const int64_t m_bytes = file_size(ws.checkpoint("roomy", "step-2") + "/model.safetensors");
  const int64_t t_bytes = file_size(ws.checkpoint("roomy", "step-2") + "/trainer_state.pt");
  // tmpfs: room for the step-2 checkpoint and the step-4 weights, but not
  // for the step-4 optimizer state (tmpfs counts whole pages).
  auto pages = [](int64_t bytes) { return (bytes + 4095) / 4096; };
  const int64_t m = pages(m_bytes), t = pages(t_bytes);
  ASSERT_GT(t, 24) << "the optimizer state is too small for this test's page arithmetic";
  const int64_t kb = 4 * (2 * m + t + t / 2 + 8);
  const std::string small = ws.path("small");
  make_directories(small);
  std::string cmd = ws.train_command(1, "full", opts);
  const std::string ck = " --checkpoint_dir " + ws.path("ck");
  cmd.replace(cmd.find(ck), ck.size(), " --checkpoint_dir " + small);
  const std::string ckdir = small + "/full/checkpoint";
  // Without tmpfs: each file may hold the weights but not the optimizer state.
  const std::string limited = "(trap \"\" XFSZ; ulimit -f " + std::to_string((m_bytes + t_bytes) / 2048) + "; exec " +
                              cmd + ")";
  const std::string script =
      (tmpfs ? "mount -t tmpfs -o size=" + std::to_string(kb) + "k tmpfs " + small + " || exit 99; " + cmd
             : limited) +
      " > " + ws.path("full1.log") + " 2>&1; echo $? > " + ws.path("full1.rc") + "; " + "ls -a " + ckdir + " > " +
      ws.path("full1.ls") + "; " + (tmpfs ? "mount -o remount,size=64m " + small + " || exit 98; " : "") + cmd +
      " > " + ws.path("full2.log") + " 2>&1; echo $? > " + ws.path("full2.rc") + "; " + "ls -a " + ckdir + " > " +
      ws.path("full2.ls") + "; " + "cp " + ckdir + "/step-6/model.safetensors " +
      ws.path("full-step6.safetensors") + "; true";
  std::string out;
  ASSERT_EQ(run_command("timeout 300 " + (tmpfs ? in_private_mounts(script) : "sh -c '" + script + "'"), &out), 0)
      << out;

  const std::string log1 = read_file(ws.path("full1.log"));
  EXPECT_EQ(read_file(ws.path("full1.rc")), "1\n") << "not a clean error exit:\n" << log1;
  EXPECT_NE(log1.find(tmpfs ? "No space left on device" : "File too large"), std::string::npos) << log1;
  EXPECT_NE(log1.find(small), std::string::npos) << "the error names no file:\n" << log1;
  const std::string ls1 = read_file(ws.path("full1.ls"));
  EXPECT_EQ(ls1.find(tmpfs ? "step-4" : "step-2"), std::string::npos) << "a half-written checkpoint was left:\n"
                                                                        << ls1;
  if (tmpfs) {
    EXPECT_NE(ls1.find("step-2"), std::string::npos) << ls1;
  }

  const std::string log2 = read_file(ws.path("full2.log"));
  EXPECT_EQ(read_file(ws.path("full2.rc")), "0\n") << log2;
  if (tmpfs) {
    EXPECT_NE(log2.find("resuming"), std::string::npos) << log2;
  }
  EXPECT_EQ(read_file(ws.path("full2.ls")).find(".tmp."), std::string::npos) << read_file(ws.path("full2.ls"));
  EXPECT_TRUE(same_weights(ws.path("full-step6.safetensors"), ws.checkpoint("roomy", "step-6") + "/model.safetensors"));
}

}  // namespace
}  // namespace fid::testing
