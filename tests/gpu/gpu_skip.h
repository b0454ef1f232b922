// GPU tests run where LibTorch sees a CUDA device and skip elsewhere, saying
// why (a CPU-only build, or a CUDA build on a machine without a GPU).
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

#define FID_SKIP_WITHOUT_GPU()                                                     \
  do {                                                                             \
    const std::string reason = ::fid::testing::no_gpu_reason();                    \
    if (!reason.empty()) GTEST_SKIP() << "SKIP: GPU test: " << reason;             \
  } while (0)
