// Where a model runs and in which dtype. `--device` names the device for
// every subcommand that runs a model; inference picks its dtype by one rule
// for embedding passages and encoding questions, so that both sides of a
// dense index are computed alike.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace fid::runtime {

// `--device`'s value: "auto" (GPU local_rank % devices when LibTorch sees a
// GPU, else the CPU), "cpu", "cuda" (GPU local_rank % devices) or "cuda:N".
// Throws, naming `what`, when CUDA is asked for and this build has none
// (saying how to get one), or no GPU is visible, or N is out of range.
c10::Device parse_device(const std::string& spec, int local_rank, const std::string& what = "--device");

// True when this build's LibTorch carries CUDA (whether or not a GPU is visible).
bool build_has_cuda();

// The device of a module's first parameter (the CPU for one without any).
template <typename Module>
c10::Device module_device(const Module& m) {
  for (const auto& p : m.parameters()) return p.device();
  return c10::Device(c10::DeviceType::CPU);
}

struct Placement {
  c10::Device device = c10::Device(c10::DeviceType::CPU);
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string reason;  // why this dtype, for one log line
};

// reduced = !--no_fp16: float16 on CUDA, bfloat16 on a CPU with native bf16
// (faster than float32 there rather than emulated), else float32.
Placement choose_placement(bool reduced, const c10::Device& device);

}  // namespace fid::runtime
