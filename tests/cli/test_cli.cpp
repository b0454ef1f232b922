// The `fid` binary's top level: version, help, unknown subcommands.
#include <gtest/gtest.h>

#include "support/test_util.h"

namespace fid {
namespace {

TEST(Cli, VersionPrintsProjectVersion) {
  std::string out;
  ASSERT_EQ(testing::run_command(testing::fid_binary() + " --version", &out), 0) << out;
  ASSERT_EQ(out.rfind(std::string("fid ") + FID_VERSION + "\nLibTorch ", 0), 0u) << out;
  // The build's CUDA and NCCL: what --device cuda and FID_DIST_BACKEND=nccl can do.
#ifdef FID_HAVE_NCCL
  EXPECT_NE(out.find(", CUDA: yes, NCCL: yes\n"), std::string::npos) << out;
#else
  EXPECT_NE(out.find(", NCCL: no\n"), std::string::npos) << out;
#endif
}

TEST(Cli, HelpListsSubcommandsAndExitsZero) {
  std::string out;
  ASSERT_EQ(testing::run_command(testing::fid_binary() + " --help", &out), 0) << out;
  EXPECT_NE(out.find("Usage:"), std::string::npos) << out;
  // Every registered subcommand is listed with its description.
  EXPECT_NE(out.find("synth-data"), std::string::npos) << out;
  EXPECT_NE(out.find("train-tokenizer"), std::string::npos) << out;
  EXPECT_NE(out.find("--version"), std::string::npos) << out;
}

TEST(Cli, UnknownSubcommandFailsWithMessage) {
  std::string out;
  EXPECT_NE(testing::run_command(testing::fid_binary() + " frobnicate", &out), 0);
  EXPECT_NE(out.find("frobnicate"), std::string::npos) << out;
}

TEST(Cli, DistBackendVariableIsChecked) {
  // A mistyped backend is named before any work starts.
  testing::TempDir dir;
  std::string out;
  EXPECT_NE(testing::run_command("FID_DIST_BACKEND=gloo " + testing::fid_binary() +
                                     " synth-data --people 20 --output_dir " + dir.path() + "/d",
                                 &out),
            0);
  EXPECT_NE(out.find("FID_DIST_BACKEND must be 'mpi' or 'nccl', got 'gloo'"), std::string::npos)
      << out;
#ifndef FID_HAVE_NCCL
  // Without NCCL compiled in, asking for it is refused with how to rebuild.
  EXPECT_NE(testing::run_command("FID_DIST_BACKEND=nccl " + testing::fid_binary() +
                                     " bm25 --passages /nonexistent --data /nonexistent --output_path " +
                                     dir.path() + "/r.json",
                                 &out),
            0);
  EXPECT_NE(out.find("NCCL backend is not compiled"), std::string::npos) << out;
#endif
}

}  // namespace
}  // namespace fid
