#include "runtime/placement.h"

#include <torch/cuda.h>

#include "model/autocast.h"

namespace fid::runtime {

Placement choose_placement(bool reduced, const c10::Device& device) {
  if (!reduced) return {device, at::kFloat, "float32 (--no_fp16)"};
  if (device.is_cuda()) return {device, at::kHalf, "float16 on the GPU (--no_fp16 for float32)"};
  if (model::cpu_has_native_bf16()) {
    return {device, at::kBFloat16, "bfloat16: this CPU has native bf16 (--no_fp16 for float32)"};
  }
  return {device, at::kFloat,
          "float32: this CPU has no native bfloat16 (neither avx512_bf16 nor amx_bf16 in "
          "/proc/cpuinfo), where bf16 would be slower than float32"};
}

Placement place_for_rank(int local_rank, bool reduced) {
  c10::Device device(c10::DeviceType::CPU);
  if (torch::cuda::is_available()) {
    const auto n = static_cast<int>(torch::cuda::device_count());
    device = c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(local_rank % n));
  }
  return choose_placement(reduced, device);
}

}  // namespace fid::runtime
