#include "common/system.h"

#include <link.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/log.h"

namespace fid {
namespace {

int64_t status_field_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) return std::atoll(line.c_str() + key.size());
  }
  return 0;
}

int collect_blas(struct dl_phdr_info* info, size_t, void* data) {
  std::string name = info->dlpi_name ? info->dlpi_name : "";
  if (name.find("libblas") != std::string::npos || name.find("openblas") != std::string::npos ||
      name.find("libmkl") != std::string::npos || name.find("blis") != std::string::npos) {
    auto* out = static_cast<std::string*>(data);
    if (out->empty()) *out = name;
  }
  return 0;
}

}  // namespace

int64_t peak_rss_bytes() { return status_field_kb("VmHWM") * 1024; }
int64_t current_rss_bytes() { return status_field_kb("VmRSS") * 1024; }

std::string loaded_blas_library() {
  std::string found;
  dl_iterate_phdr(collect_blas, &found);
  if (found.empty()) return found;
  char resolved[PATH_MAX];
  if (realpath(found.c_str(), resolved) != nullptr) return resolved;
  return found;
}

void warn_if_reference_blas() {
  static bool done = false;
  if (done) return;
  done = true;
  std::string blas = loaded_blas_library();
  // Debian's alternatives put the reference BLAS under .../blas/libblas.so.3;
  // OpenBLAS lives under .../openblas-*/.
  if (!blas.empty() && blas.find("openblas") == std::string::npos &&
      blas.find("mkl") == std::string::npos && blas.find("blis") == std::string::npos) {
    log::warn("the system BLAS is the reference implementation (", blas,
              "), about 15x slower than OpenBLAS here: install libopenblas0-pthread "
              "(launch/setup.sh does) or select it with update-alternatives");
  }
}

namespace {

struct CpuInfo {
  std::string model = "?";
  std::string flags;  // " flag flag ... " of the first CPU
};

const CpuInfo& cpu_info() {
  static const CpuInfo info = [] {
    CpuInfo c;
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      if (line.rfind("model name", 0) == 0 && c.model == "?") c.model = line.substr(colon + 2);
      if (line.rfind("flags", 0) == 0 && c.flags.empty()) c.flags = line.substr(colon + 1) + " ";
    }
    return c;
  }();
  return info;
}

}  // namespace

bool cpu_has_flag(const std::string& flag) {
  return cpu_info().flags.find(" " + flag + " ") != std::string::npos;
}

std::string cpu_model_name() { return cpu_info().model; }

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}

int env_int_or(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (end != v && *end == '\0') ? static_cast<int>(x) : fallback;
}

}  // namespace fid
