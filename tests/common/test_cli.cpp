// The `fid` binary's top level: version, help, unknown subcommands.
#include <gtest/gtest.h>

#include "support/test_util.h"

namespace fid {
namespace {

TEST(Cli, VersionPrintsProjectVersion) {
  std::string out;
  ASSERT_EQ(testing::run_command(testing::fid_binary() + " --version", &out), 0) << out;
  EXPECT_EQ(out, std::string("fid ") + FID_VERSION + "\n");
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

}  // namespace
}  // namespace fid
