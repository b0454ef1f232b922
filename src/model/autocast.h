// Reduced precision for the reader: `--precision fp32|bf16`. bf16 is
// LibTorch's CPU autocast: matrix products (linear, bmm) run in bfloat16
// while softmax, norms, losses and the residual stream stay float32, as
// torch.autocast("cpu", dtype=torch.bfloat16) does in Python. It pays off on
// CPUs with native bf16 products (AVX512-BF16, AMX); elsewhere LibTorch 1.13's
// bf16 GEMM is a scalar fallback, much slower than float32.
#pragma once
#include <optional>
#include <string>

namespace fid::model {

enum class Precision { kFp32, kBf16 };

// "fp32" | "bf16"; `what` names the flag or field in the error.
Precision parse_precision(const std::string& s, const std::string& what);
std::string to_string(Precision p);

// Sets LibTorch's CPU autocast state (on or off, and its dtype, an
// at::ScalarType) for its lifetime; restores the previous state on exit and,
// when autocast was off before, clears the cache of cast weights (after an
// optimizer step they would be stale).
class AutocastState {
 public:
  AutocastState(bool enabled, int dtype);
  ~AutocastState();
  AutocastState(const AutocastState&) = delete;
  AutocastState& operator=(const AutocastState&) = delete;

 private:
  bool was_enabled_;
  int was_dtype_;
};

// Enables bf16 autocast for its lifetime when p is kBf16; leaves the state
// as it is for fp32.
class AutocastScope {
 public:
  explicit AutocastScope(Precision p);

 private:
  std::optional<AutocastState> state_;
};

// True when the CPU has native bf16 dot products (avx512_bf16 or amx_bf16 in
// /proc/cpuinfo), where bf16 products are faster than float32 ones.
bool cpu_has_native_bf16();

}  // namespace fid::model
