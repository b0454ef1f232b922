// GPU tests need a GPU: they are built only against a CUDA LibTorch and run by
// tests/gpu/run.sh on a GPU machine (the CPU test runs leave out the `gpu`
// label). Started where LibTorch sees no CUDA device, each one fails saying
// why, instead of passing or skipping unseen.
#pragma once
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <string>

#include "runtime/placement.h"

namespace fid::testing {

inline std::string no_gpu_reason() {
  if (torch::cuda::is_available()) return "";
  return runtime::build_has_cuda() ? "this build has CUDA but no GPU is visible"
                                   : "this build of fid has no CUDA (launch/check-cuda-build.sh builds one)";
}

}  // namespace fid::testing

// In a fixture's SetUp or a test body: a fatal failure naming the reason.
#define FID_REQUIRE_GPU()                                                                   \
  do {                                                                                      \
    const std::string reason = ::fid::testing::no_gpu_reason();                             \
    ASSERT_TRUE(reason.empty()) << "GPU test without a GPU: " << reason                     \
                                << " (tests/gpu/run.sh runs these on a GPU machine)";       \
  } while (0)
