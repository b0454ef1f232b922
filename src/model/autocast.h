// Reduced precision for the reader: `--precision fp32|bf16|fp16`, as
// LibTorch's autocast on the model's device: matrix products (linear, bmm)
// run in the reduced type while softmax, norms, losses and the residual
// stream stay float32, as torch.autocast does in Python. bf16 pays off on
// CPUs with native bf16 products (AVX512-BF16, AMX) and on GPUs; elsewhere
// LibTorch's CPU bf16 GEMM is a scalar fallback, much slower than float32.
// fp16 is CUDA only (LibTorch's CPU autocast has no float16) and needs loss
// scaling in training (train/loss_scaler.h).
#pragma once
#include <c10/core/DeviceType.h>

#include <optional>
#include <string>

namespace fid::model {

enum class Precision { kFp32, kBf16, kFp16 };

// "fp32" | "bf16" | "fp16"; `what` names the flag or field in the error.
Precision parse_precision(const std::string& s, const std::string& what);
std::string to_string(Precision p);

// Autocast's thread-local flags for one device type (CPU or CUDA).
struct AutocastFlags {
  bool enabled = false;
  int dtype = 0;  // an at::ScalarType
};
AutocastFlags autocast_flags(c10::DeviceType device);

// Sets autocast's state for `device` (on or off, and its dtype) for its
// lifetime; restores the previous state on exit and, when autocast was off
// before, clears the cache of cast weights (after an optimizer step they
// would be stale).
class AutocastState {
 public:
  AutocastState(c10::DeviceType device, AutocastFlags flags);
  ~AutocastState();
  AutocastState(const AutocastState&) = delete;
  AutocastState& operator=(const AutocastState&) = delete;

 private:
  c10::DeviceType device_;
  AutocastFlags was_;
};

// Enables autocast on `device` for its lifetime when p is kBf16 or kFp16;
// leaves the state as it is for fp32. Throws for fp16 on the CPU.
class AutocastScope {
 public:
  explicit AutocastScope(Precision p, c10::DeviceType device = c10::DeviceType::CPU);

 private:
  std::optional<AutocastState> state_;
};

// Throws, naming --precision and --device, where `p` cannot run on `device`.
void check_precision_on(Precision p, c10::DeviceType device);

// True when the CPU has native bf16 dot products (avx512_bf16 or amx_bf16 in
// /proc/cpuinfo), where bf16 products are faster than float32 ones.
bool cpu_has_native_bf16();

}  // namespace fid::model
