// Where an inference model runs and in which dtype: one rule for embedding
// passages and encoding questions, so that both sides of a dense index are
// computed alike.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace fid::runtime {

struct Placement {
  c10::Device device = c10::Device(c10::DeviceType::CPU);
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string reason;  // why this dtype, for one log line
};

// reduced = !--no_fp16: float16 on CUDA, bfloat16 on a CPU with native bf16
// (faster than float32 there rather than emulated), else float32.
Placement choose_placement(bool reduced, const c10::Device& device);

// CUDA device local_rank % devices when LibTorch sees a GPU, else the CPU,
// with the dtype of choose_placement.
Placement place_for_rank(int local_rank, bool reduced);

}  // namespace fid::runtime
