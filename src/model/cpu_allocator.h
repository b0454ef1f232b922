// A caching CPU allocator for LibTorch tensors. LibTorch 1.13 allocates CPU
// tensors with plain malloc/free; glibc serves large blocks with fresh mmap
// and gives them back on free, so every large temporary of every step is paid
// again in page faults: a t5-small FiD training step touched about 280k fresh
// pages (1.1 GB) and spent 1-2.5 s of system time in them. Keeping freed large
// blocks for reuse brings that to under 10k faults a step.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fid::model {

struct CachingAllocatorStats {
  int64_t cached_bytes = 0;  // freed blocks kept for reuse
  int64_t hits = 0;          // allocations served from the cache
  int64_t misses = 0;        // large allocations that went to the system
};

// Makes LibTorch's CPU tensors use the caching allocator from now on (tensors
// allocated before keep their own deleter). Blocks under 1 MiB go to the
// default allocator (glibc's heap already reuses them); larger ones are reused
// when a cached block is at most 1/4 larger than the request. At most
// `max_cached_bytes` are kept; beyond that freed blocks go back to the system.
// Idempotent; safe from any thread.
void install_caching_cpu_allocator(int64_t max_cached_bytes = int64_t{1} << 30);
bool caching_cpu_allocator_installed();

// Returns every cached block to the system.
void release_cached_cpu_memory();
CachingAllocatorStats caching_cpu_allocator_stats();

}  // namespace fid::model
