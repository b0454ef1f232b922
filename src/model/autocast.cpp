#include "model/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/api/include/torch/version.h>

#include "common/error.h"
#include "common/system.h"

// LibTorch 2.4 keyed autocast's state by device type and deprecated the
// per-device functions that 1.13 has.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define FID_AUTOCAST_BY_DEVICE 1
#endif

namespace fid::model {

Precision parse_precision(const std::string& s, const std::string& what) {
  if (s == "fp32" || s == "float32") return Precision::kFp32;
  if (s == "bf16" || s == "bfloat16") return Precision::kBf16;
  if (s == "fp16" || s == "float16") return Precision::kFp16;
  FID_THROW(what, " must be 'fp32', 'bf16' or 'fp16', got '", s, "'");
}

std::string to_string(Precision p) {
  switch (p) {
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
    default: return "fp32";
  }
}

void check_precision_on(Precision p, c10::DeviceType device) {
  FID_CHECK(p != Precision::kFp16 || device == c10::DeviceType::CUDA,
            "--precision fp16 needs --device cuda: LibTorch's CPU autocast has no float16 "
            "(on the CPU use bf16, or fp32)");
}

AutocastFlags autocast_flags(c10::DeviceType device) {
#ifdef FID_AUTOCAST_BY_DEVICE
  return {at::autocast::is_autocast_enabled(device),
          static_cast<int>(at::autocast::get_autocast_dtype(device))};
#else
  if (device == c10::DeviceType::CUDA)
    return {at::autocast::is_enabled(), static_cast<int>(at::autocast::get_autocast_gpu_dtype())};
  return {at::autocast::is_cpu_enabled(), static_cast<int>(at::autocast::get_autocast_cpu_dtype())};
#endif
}

namespace {

void set_autocast(c10::DeviceType device, AutocastFlags f) {
  const auto dtype = static_cast<at::ScalarType>(f.dtype);
#ifdef FID_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::set_autocast_enabled(device, f.enabled);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(f.enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(f.enabled);
  }
#endif
}

}  // namespace

AutocastState::AutocastState(c10::DeviceType device, AutocastFlags flags)
    : device_(device), was_(autocast_flags(device)) {
  set_autocast(device, flags);
}

AutocastState::~AutocastState() {
  set_autocast(device_, was_);
  if (!was_.enabled) at::autocast::clear_cache();
}

AutocastScope::AutocastScope(Precision p, c10::DeviceType device) {
  if (p == Precision::kFp32) return;
  check_precision_on(p, device);
  const at::ScalarType dtype = p == Precision::kBf16 ? at::kBFloat16 : at::kHalf;
  state_.emplace(device, AutocastFlags{true, static_cast<int>(dtype)});
}

bool cpu_has_native_bf16() { return cpu_has_flag("avx512_bf16") || cpu_has_flag("amx_bf16"); }

}  // namespace fid::model
