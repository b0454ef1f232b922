// FiD's command lines read as FiD's argparse reads them: unambiguous
// prefixes (`--total_step`, as FiD's README writes), an ambiguous prefix
// refused naming its candidates, and the options FiD's scripts accept but
// that mean nothing here accepted with a warning.
#include <gtest/gtest.h>

#include "common/files.h"
#include "cli/reader_workspace.h"

namespace fid::testing {
namespace {

ReaderWorkspace& workspace() {
  static ReaderWorkspace ws;
  return ws;
}

TEST(SeedCommandLine, UnambiguousPrefixesAreTheOptionsTheyBegin) {
  auto& ws = workspace();
  // --total_step and --warmup_step as in FiD's README; --save_fr=2 with '='.
  std::string cmd = ws.train_command(1, "prefix", "--total_step 2 --save_fr=2 --eval_freq 1000");
  cmd.replace(cmd.find("--warmup_steps 2"), 16, "--warmup_step 2");
  const std::string out = run_ok(cmd);
  EXPECT_TRUE(path_exists(ws.path("ck/prefix/checkpoint/step-2"))) << out;
  EXPECT_FALSE(path_exists(ws.path("ck/prefix/checkpoint/step-4"))) << out;
}

TEST(SeedCommandLine, AmbiguousPrefixIsRefusedListingTheCandidates) {
  auto& ws = workspace();
  std::string out;
  EXPECT_NE(run_command(ws.train_command(1, "ambiguous", "--total_steps 2 --eval 5"), &out), 0) << out;
  EXPECT_NE(out.find("option '--eval' is ambiguous for train-reader: it could be"), std::string::npos) << out;
  for (const char* c : {"--eval_data", "--eval_freq", "--eval_print_freq"})
    EXPECT_NE(out.find(c), std::string::npos) << c << "\n" << out;
  EXPECT_FALSE(path_exists(ws.path("ck/ambiguous")));
  // An option that begins no option is still an error.
  EXPECT_NE(run_command(ws.train_command(1, "unknown", "--total_steps 2 --bogus 1"), &out), 0) << out;
  EXPECT_NE(out.find("--bogus"), std::string::npos) << out;
}

TEST(SeedCommandLine, OptionsFidAcceptsButIgnoresAreAcceptedWithAWarning) {
  auto& ws = workspace();
  std::string out = run_ok(ws.train_command(
      2, "ignored", "--total_steps 2 --save_freq 2 --eval_freq 1000 --local_rank 0 --main_port 10001 --maxload -1"));
  for (const char* f : {"--local_rank 0", "--main_port 10001", "--maxload -1"})
    EXPECT_NE(out.find(std::string(f) + ": accepted for compatibility with FiD's scripts and ignored"),
              std::string::npos) << f << "\n" << out;
  EXPECT_TRUE(path_exists(ws.path("ck/ignored/checkpoint/step-2")));
  out = run_ok(ws.test_command(1, "ignored-eval", "--model_path " + ws.path("ck/ignored/checkpoint/step-2") +
                                                         " --train_data none --model_size base --use_checkpoint"));
  for (const char* f : {"--train_data", "--model_size", "--use_checkpoint"})
    EXPECT_NE(out.find(std::string(f) + ": accepted for compatibility with FiD's test_reader.py and ignored"),
              std::string::npos) << f << "\n" << out;
}

}  // namespace
}  // namespace fid::testing
