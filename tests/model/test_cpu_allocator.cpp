// The caching CPU allocator: large blocks are reused, small ones and
// oversized matches are not, the limit holds, and release empties the cache.
// Its own executable: installing it changes the whole process.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include "model/cpu_allocator.h"

using namespace fid::model;

TEST(CachingCpuAllocator, ReusesLargeBlocksWithinLimits) {
  install_caching_cpu_allocator(int64_t{64} << 20);
  ASSERT_TRUE(caching_cpu_allocator_installed());
  release_cached_cpu_memory();
  const int64_t mib = 1 << 20;
  void* first = nullptr;
  {
    at::Tensor t = at::empty({4 * mib / 4});  // 4 MiB of float
    first = t.data_ptr();
    t.fill_(1.0f);
  }
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 4 * mib);
  const auto before = caching_cpu_allocator_stats();
  {
    at::Tensor t = at::empty({(4 * mib - 4096) / 4});  // fits, wastes one page
    EXPECT_EQ(t.data_ptr(), first);
    EXPECT_EQ(caching_cpu_allocator_stats().hits, before.hits + 1);
  }
  {
    // A 3 MiB request does not take the free 4 MiB block (more than 1/4 larger).
    at::Tensor small = at::empty({3 * mib / 4});
    EXPECT_NE(small.data_ptr(), first);
    EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 4 * mib);
  }
  // Small tensors never enter the cache.
  const int64_t cached = caching_cpu_allocator_stats().cached_bytes;
  { at::Tensor s = at::empty({1000}); }
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, cached);
  // Beyond the limit freed blocks go back to the system.
  {
    std::vector<at::Tensor> many;
    for (int i = 0; i < 20; ++i) many.push_back(at::empty({8 * mib / 4}));
  }
  EXPECT_LE(caching_cpu_allocator_stats().cached_bytes, 64 * mib);
  EXPECT_GT(caching_cpu_allocator_stats().cached_bytes, 32 * mib);
  release_cached_cpu_memory();
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 0);
  // raw_allocate (LibTorch's serialization uses it) needs the context to be
  // the data pointer; the raw deleter takes large and small blocks back.
  c10::Allocator* alloc = c10::GetCPUAllocator();
  void* big = alloc->raw_allocate(2 * mib);
  void* little = alloc->raw_allocate(100);
  alloc->raw_deleter()(big);
  alloc->raw_deleter()(little);
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 2 * mib);
  // Values survive reuse like any fresh allocation would: nothing shared.
  at::Tensor a = at::arange(2 * mib, at::kFloat), b = a * 2;
  EXPECT_NE(a.data_ptr(), b.data_ptr());
  EXPECT_EQ(b[12345].item<float>(), 24690.0f);
}
