#include "model/cpu_allocator.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace fid::model {
namespace {

constexpr size_t kMinCached = size_t{1} << 20;  // smaller blocks: the default allocator
constexpr size_t kPage = 4096;
constexpr size_t kAlignment = 64;  // as c10's default CPU allocator

struct Block {
  void* ptr;
  size_t size;  // bytes allocated (the request rounded up to pages)
};

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached) return c10::GetDefaultCPUAllocator()->allocate(n);
    const size_t size = (n + kPage - 1) / kPage * kPage;
    Block* b = take(size);
    if (b == nullptr) {
      void* p = nullptr;
      if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) {
        release_all();  // the cache may be what is in the way
        if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) throw std::bad_alloc();
      }
      b = new Block{p, size};
    }
    return c10::DataPtr(b->ptr, b, &CachingCpuAllocator::give_back, c10::Device(c10::DeviceType::CPU));
  }

  // Blocks carry their size in the context: there is no raw deleter.
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

  static CachingCpuAllocator& instance() {
    // Never destroyed: tensors freed during exit still find it.
    static auto* a = new CachingCpuAllocator();
    return *a;
  }

  void set_limit(int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = static_cast<size_t>(bytes < 0 ? 0 : bytes);
  }

  void release_all() const {
    std::multimap<size_t, Block*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_ = 0;
    }
    for (auto& [size, b] : blocks) destroy(b);
  }

  CachingAllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {static_cast<int64_t>(cached_), hits_, misses_};
  }

 private:
  // The smallest cached block that fits, if it wastes at most a quarter.
  Block* take(size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(size);
    if (it == free_.end() || it->first > size + size / 4) {
      ++misses_;
      return nullptr;
    }
    Block* b = it->second;
    free_.erase(it);
    cached_ -= b->size;
    ++hits_;
    return b;
  }

  static void give_back(void* ctx) {
    auto* b = static_cast<Block*>(ctx);
    CachingCpuAllocator& self = instance();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      if (self.cached_ + b->size <= self.limit_) {
        self.free_.emplace(b->size, b);
        self.cached_ += b->size;
        return;
      }
    }
    destroy(b);
  }

  static void destroy(Block* b) {
    std::free(b->ptr);
    delete b;
  }

  mutable std::mutex mutex_;
  mutable std::multimap<size_t, Block*> free_;  // size -> block
  mutable size_t cached_ = 0;
  mutable int64_t hits_ = 0, misses_ = 0;
  size_t limit_ = size_t{1} << 30;
};

std::atomic<bool> g_installed{false};
std::mutex g_install_mutex;

}  // namespace

void install_caching_cpu_allocator(int64_t max_cached_bytes) {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  CachingCpuAllocator& a = CachingCpuAllocator::instance();
  a.set_limit(max_cached_bytes);
  if (g_installed.load()) return;
  // Priority above the default registration (0), so the default one does not
  // come back.
  c10::SetCPUAllocator(&a, /*priority=*/1);
  g_installed = true;
}

bool caching_cpu_allocator_installed() { return g_installed.load(); }

void release_cached_cpu_memory() { CachingCpuAllocator::instance().release_all(); }

CachingAllocatorStats caching_cpu_allocator_stats() { return CachingCpuAllocator::instance().stats(); }

}  // namespace fid::model
