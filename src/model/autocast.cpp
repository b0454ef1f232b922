#include "model/autocast.h"

#include <ATen/autocast_mode.h>

#include "common/error.h"
#include "common/system.h"

namespace fid::model {

Precision parse_precision(const std::string& s, const std::string& what) {
  if (s == "fp32" || s == "float32") return Precision::kFp32;
  if (s == "bf16" || s == "bfloat16") return Precision::kBf16;
  FID_THROW(what, " must be 'fp32' or 'bf16', got '", s, "'");
}

std::string to_string(Precision p) { return p == Precision::kBf16 ? "bf16" : "fp32"; }

AutocastState::AutocastState(bool enabled, int dtype)
    : was_enabled_(at::autocast::is_cpu_enabled()),
      was_dtype_(static_cast<int>(at::autocast::get_autocast_cpu_dtype())) {
  at::autocast::set_autocast_cpu_dtype(static_cast<at::ScalarType>(dtype));
  at::autocast::set_cpu_enabled(enabled);
}

AutocastState::~AutocastState() {
  at::autocast::set_cpu_enabled(was_enabled_);
  at::autocast::set_autocast_cpu_dtype(static_cast<at::ScalarType>(was_dtype_));
  if (!was_enabled_) at::autocast::clear_cache();
}

AutocastScope::AutocastScope(Precision p) {
  if (p == Precision::kBf16) state_.emplace(true, static_cast<int>(at::kBFloat16));
}

bool cpu_has_native_bf16() { return cpu_has_flag("avx512_bf16") || cpu_has_flag("amx_bf16"); }

}  // namespace fid::model
