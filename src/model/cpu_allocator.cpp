#include "model/cpu_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <torch/csrc/api/include/torch/version.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

// LibTorch 2 made allocate() non-const and added a pure copy_data().
#if TORCH_VERSION_MAJOR >= 2
#define FID_ALLOCATE_CONST
#else
#define FID_ALLOCATE_CONST const
#endif

namespace fid::model {
namespace {

constexpr size_t kMinCached = size_t{1} << 20;  // smaller blocks: the default allocator
constexpr size_t kPage = 4096;
constexpr size_t kAlignment = 64;  // as c10's default CPU allocator

class CachingCpuAllocator final : public c10::Allocator {
 public:
  // The context is the data pointer itself (raw_allocate, used by some of
  // LibTorch's serialization, requires it); block sizes live in `live_`.
  c10::DataPtr allocate(size_t n) FID_ALLOCATE_CONST override {
    if (n < kMinCached) return c10::GetDefaultCPUAllocator()->allocate(n);
    size_t size = (n + kPage - 1) / kPage * kPage;
    void* p = take(&size);
    if (p == nullptr) {
      if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) {
        release_all();  // the cache may be what is in the way
        if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) throw std::bad_alloc();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_[p] = size;
    }
    return c10::DataPtr(p, p, &CachingCpuAllocator::give_back, c10::Device(c10::DeviceType::CPU));
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::give_back; }
#if TORCH_VERSION_MAJOR >= 2
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif

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
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_ = 0;
    }
    for (auto& [size, p] : blocks) std::free(p);
  }

  CachingAllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {static_cast<int64_t>(cached_), hits_, misses_};
  }

 private:
  // The smallest cached block that fits, if it wastes at most a quarter;
  // *size becomes the block's size.
  void* take(size_t* size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(*size);
    if (it == free_.end() || it->first > *size + *size / 4) {
      ++misses_;
      return nullptr;
    }
    *size = it->first;
    void* p = it->second;
    free_.erase(it);
    cached_ -= *size;
    ++hits_;
    return p;
  }

  static void give_back(void* p) {
    CachingCpuAllocator& self = instance();
    bool ours = false, kept = false;
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.live_.find(p);
      if (it != self.live_.end()) {
        ours = true;
        const size_t size = it->second;
        self.live_.erase(it);
        if (self.cached_ + size <= self.limit_) {
          self.free_.emplace(size, p);
          self.cached_ += size;
          kept = true;
        }
      }
    }
    // Not ours: a small block of the default allocator, handed out through
    // raw_allocate and freed through our raw_deleter.
    if (!ours) c10::GetDefaultCPUAllocator()->raw_deleter()(p);
    else if (!kept) std::free(p);
  }

  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;     // size -> cached block
  mutable std::unordered_map<void*, size_t> live_;  // block in use -> size
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
