#include "model/autocast.h"

#include <ATen/autocast_mode.h>

#include <fstream>
#include <sstream>

#include "common/error.h"

namespace fid::model {

Precision parse_precision(const std::string& s, const std::string& what) {
  if (s == "fp32" || s == "float32") return Precision::kFp32;
  if (s == "bf16" || s == "bfloat16") return Precision::kBf16;
  FID_THROW(what, " must be 'fp32' or 'bf16', got '", s, "'");
}

std::string to_string(Precision p) { return p == Precision::kBf16 ? "bf16" : "fp32"; }

AutocastScope::AutocastScope(Precision p) : on_(p == Precision::kBf16) {
  if (!on_) return;
  was_enabled_ = at::autocast::is_cpu_enabled();
  dtype_ = static_cast<int>(at::autocast::get_autocast_cpu_dtype());
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
}

AutocastScope::~AutocastScope() {
  if (!on_) return;
  at::autocast::set_cpu_enabled(was_enabled_);
  at::autocast::set_autocast_cpu_dtype(static_cast<at::ScalarType>(dtype_));
  // The bf16 copies of the weights are cached per scope; after an optimizer
  // step they would be stale.
  if (!was_enabled_) at::autocast::clear_cache();
}

bool cpu_has_native_bf16() {
  static const bool native = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      std::istringstream words(line);
      std::string w;
      while (words >> w)
        if (w == "avx512_bf16" || w == "amx_bf16") return true;
      return false;
    }
    return false;
  }();
  return native;
}

}  // namespace fid::model
