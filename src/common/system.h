// Facts about the running process and machine: memory use, the BLAS that the
// dynamic linker chose, environment helpers.
#pragma once
#include <cstdint>
#include <string>

namespace fid {

// Peak and current resident set size of this process, in bytes (/proc/self/status).
int64_t peak_rss_bytes();
int64_t current_rss_bytes();

// The path of the BLAS library this process resolves libblas.so.3 to, or
// empty when none is loaded.
std::string loaded_blas_library();
// Warns (once) when the system BLAS is the slow reference implementation:
// measured 3.7 GFLOP/s against 61 with OpenBLAS on these machines.
void warn_if_reference_blas();

// Whether /proc/cpuinfo lists `flag` (e.g. "avx2", "avx512_bf16") for the
// first CPU, and that CPU's model name ("?" when unknown). Read once.
bool cpu_has_flag(const std::string& flag);
std::string cpu_model_name();

std::string env_or(const char* name, const std::string& fallback);
int env_int_or(const char* name, int fallback);

}  // namespace fid
