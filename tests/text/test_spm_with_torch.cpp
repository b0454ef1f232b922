// sentencepiece inside a process that links LibTorch (as `fid` does):
// LibTorch brings libprotobuf.so.32, sentencepiece its own protobuf-lite;
// through libfid_spm (dlopen, RTLD_DEEPBIND) both live in one process.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "common/files.h"
#include "support/test_util.h"
#include "text/t5_tokenizer.h"

namespace fid::text {
namespace {

// /proc files have no size, so read them as a stream.
std::string loaded_libraries() {
  std::ifstream in("/proc/self/maps");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SentencepieceWithTorch, TokenizesNextToLibTorchsProtobuf) {
  // Use LibTorch first, so that its libraries are certainly loaded.
  at::Tensor warm = torch::arange(4).sum();
  ASSERT_EQ(warm.item<int64_t>(), 6);
  std::string maps = loaded_libraries();
  ASSERT_NE(maps.find("libtorch"), std::string::npos);
  ASSERT_NE(maps.find("libprotobuf.so"), std::string::npos) << "LibTorch without libprotobuf here";
  // fid_text must not link sentencepiece: it arrives only with libfid_spm.
  EXPECT_EQ(maps.find("libsentencepiece"), std::string::npos);

  T5Tokenizer tok = T5Tokenizer::load(join_path(fid::testing::fixtures_dir(), "t5_tokenizer"),
                                      {T5Convention::kV4, 100});
  std::vector<int32_t> ids = tok.encode("Hello world");
  EXPECT_EQ(ids, (std::vector<int32_t>{3, 494, 7, 22, 22, 18, 102, 50, 22, 17, 1}));
  maps = loaded_libraries();
  EXPECT_NE(maps.find("libfid_spm.so"), std::string::npos);
  EXPECT_NE(maps.find("libsentencepiece.so"), std::string::npos);

  at::Tensor t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()));
  EXPECT_EQ(t.sum().item<int64_t>(), 3 + 494 + 7 + 22 + 22 + 18 + 102 + 50 + 22 + 17 + 1);
  EXPECT_EQ(tok.decode(std::vector<int64_t>(ids.begin(), ids.end()), true), "Hello world");
}

}  // namespace
}  // namespace fid::text
