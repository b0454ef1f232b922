#include "runtime/placement.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>

#include "common/error.h"
#include "model/autocast.h"

namespace fid::runtime {

bool build_has_cuda() {
  // at::hasCUDA() is false without a GPU too; the CUDA hooks' compile-time
  // CUDA runtime version is there exactly when LibTorch's CUDA library is
  // (the CPU-only hooks throw instead), GPU or none.
  try {
    return at::detail::getCUDAHooks().versionCUDART() > 0;
  } catch (const std::exception&) {
    return false;
  }
}

c10::Device parse_device(const std::string& spec, int local_rank, const std::string& what) {
  if (spec == "cpu") return c10::Device(c10::DeviceType::CPU);
  const bool is_auto = spec == "auto";
  const bool is_cuda = spec == "cuda" || spec.rfind("cuda:", 0) == 0;
  FID_CHECK(is_auto || is_cuda, what, " must be auto, cpu, cuda or cuda:N, got '", spec, "'");
  if (is_auto && !torch::cuda::is_available()) return c10::Device(c10::DeviceType::CPU);
  FID_CHECK(build_has_cuda(), what, " ", spec, ": this build of fid has no CUDA (its LibTorch is CPU-only). "
            "Use --device cpu or auto here, or build fid against a CUDA LibTorch with NCCL: "
            "launch/check-cuda-build.sh does it on Debian 13 (libtorch-cuda-dev, nvidia-cuda-toolkit, "
            "libnccl-dev; README, 'GPU build')");
  const auto n = static_cast<int>(torch::cuda::device_count());
  FID_CHECK(n > 0, what, " ", spec, ": this build has CUDA but no GPU is visible to rank ", local_rank,
            " (check the driver with nvidia-smi, CUDA_VISIBLE_DEVICES, and --gpus-per-node under SLURM); "
            "--device auto would run on the CPU");
  int index = local_rank % n;
  if (spec.size() > 5) {
    const std::string digits = spec.substr(5);
    FID_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos &&
                  digits.size() < 6,
              what, " '", spec, "': the GPU number must be a non-negative integer");
    index = std::stoi(digits);
    FID_CHECK(index < n, what, " ", spec, ": only ", n, " GPU(s) are visible (cuda:0 to cuda:", n - 1, ")");
  }
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

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

}  // namespace fid::runtime
