// --device on every subcommand that runs a model: a value that cannot be
// served (CUDA on a CPU-only build, a GPU that is not there, a misspelt
// device) is refused before any work, on every rank, with a message that
// names the flag and says what to do. `fid --version` says whether this
// build has CUDA, which decides the message.
#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "support/test_util.h"

namespace fid {
namespace {

bool build_has_cuda() {
  std::string out;
  EXPECT_EQ(testing::run_command(testing::fid_binary() + " --version", &out), 0) << out;
  return out.find("CUDA: yes") != std::string::npos;
}

// Each subcommand with the least it needs to reach its device check.
std::vector<std::string> model_commands(const testing::TempDir& dir) {
  const std::string passages = dir.file("p.tsv");
  std::ofstream(passages) << "id\ttext\ttitle\n1\tsome text\ta title\n";
  const std::string m = " --model_path " + dir.file("model");
  return {"train-reader --train_data " + dir.file("t.json") + m,
          "test-reader --eval_data " + dir.file("e.json") + m,
          "train-retriever --train_data " + dir.file("t.json") + m,
          "pretrain-reader --passages " + passages + m,
          "embed-passages --passages " + passages + " --output_path " + dir.file("emb/") + m,
          "retrieve --passages " + passages + " --data " + dir.file("q.json") + " --passages_embeddings " +
              dir.file("emb") + " --output_path " + dir.file("r.json") + m};
}

TEST(Device, CudaWithoutCudaOrWithoutAGpuIsRefusedByEverySubcommand) {
  testing::TempDir dir;
  const bool cuda = build_has_cuda();
  for (const std::string& cmd : model_commands(dir)) {
    std::string out;
    // cuda:99: no machine has that many GPUs, so the refusal does not depend on this one's.
    EXPECT_NE(testing::run_command(testing::fid_binary() + " " + cmd + " --device cuda:99", &out), 0) << cmd;
    if (cuda) {
      EXPECT_TRUE(out.find("--device cuda:99: only ") != std::string::npos ||
                  out.find("--device cuda:99: this build has CUDA but no GPU is visible") != std::string::npos)
          << cmd << "\n" << out;
    } else {
      EXPECT_NE(out.find("--device cuda:99: this build of fid has no CUDA"), std::string::npos) << cmd << "\n" << out;
      EXPECT_NE(out.find("launch/check-cuda-build.sh"), std::string::npos) << out;
    }
    EXPECT_EQ(out.find("does not exist"), std::string::npos) << "refused before reading inputs: " << cmd << "\n"
                                                           << out;
  }
}

TEST(Device, AMisspeltDeviceIsNamed) {
  testing::TempDir dir;
  for (const std::string& cmd : model_commands(dir)) {
    std::string out;
    EXPECT_NE(testing::run_command(testing::fid_binary() + " " + cmd + " --device gpu0", &out), 0) << cmd;
    EXPECT_NE(out.find("--device must be auto, cpu, cuda or cuda:N, got 'gpu0'"), std::string::npos)
        << cmd << "\n" << out;
  }
}

TEST(Device, EveryRankRefusesAndTheJobEndsWithoutAHang) {
  testing::TempDir dir;
  // cuda:99: refused on a CPU-only build (no CUDA) and on a CUDA build
  // (no such GPU, or none visible) alike.
  const std::vector<std::string> why =
      build_has_cuda() ? std::vector<std::string>{"only ", "this build has CUDA but no GPU"}
                       : std::vector<std::string>{"this build of fid has no CUDA"};
  std::string out;
  EXPECT_NE(testing::run_command("timeout 120 " + testing::mpi_launch(2) + " " + testing::fid_binary() +
                                     " train-reader --train_data " + dir.file("t.json") + " --model_path " +
                                     dir.file("m") + " --device cuda:99",
                                 &out),
            0);
  EXPECT_EQ(out.find("timed out"), std::string::npos) << out;
  for (const std::string rank : {"[rank 0]", "[rank 1]"}) {
    bool refused = false;
    for (const std::string& w : why)
      refused = refused || out.find(rank + " error: train-reader: --device cuda:99: " + w) != std::string::npos;
    EXPECT_TRUE(refused) << rank << "\n" << out;
  }
}

}  // namespace
}  // namespace fid
