// Queues between the threads of a streaming pipeline (reader, tokenizers,
// model, writer). Bounded so that a slow stage holds back the fast ones
// instead of letting memory grow; abortable so that an error in any stage
// releases every thread blocked on the others.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace fid::runtime {

// First-in first-out with a capacity. close(): producers are done, consumers
// drain what is left; abort(): everyone returns at once.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // False when the queue was aborted or closed (the item is dropped).
  bool push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return aborted_ || closed_ || items_.size() < capacity_; });
    if (aborted_ || closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  // Empty when closed and drained, or aborted.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return aborted_ || closed_ || !items_.empty(); });
    if (aborted_ || items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void close() { set([this] { closed_ = true; }); }
  void abort() { set([this] { aborted_ = true; }); }

 private:
  template <typename F>
  void set(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    f();
    not_full_.notify_all();
    not_empty_.notify_all();
  }
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  bool closed_ = false, aborted_ = false;
};

// Items produced out of order by several workers, consumed in sequence order
// 0, 1, 2, ... Only items within `window` of the next expected one are
// accepted, so memory stays bounded and the worker holding the next expected
// item never waits (no deadlock however the workers are scheduled).
template <typename T>
class ReorderQueue {
 public:
  explicit ReorderQueue(int64_t window) : window_(window < 1 ? 1 : window) {}

  bool push(int64_t seq, T item) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return aborted_ || seq < next_out_ + window_; });
    if (aborted_) return false;
    items_.emplace(seq, std::move(item));
    changed_.notify_all();
    return true;
  }
  // The item with the next sequence number; empty once `end` (the number of
  // items, set by close) are consumed, or when aborted.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] {
      return aborted_ || (end_ >= 0 && next_out_ >= end_) ||
             (!items_.empty() && items_.begin()->first == next_out_);
    });
    if (aborted_ || items_.empty() || items_.begin()->first != next_out_) return std::nullopt;
    T item = std::move(items_.begin()->second);
    items_.erase(items_.begin());
    ++next_out_;
    changed_.notify_all();
    return item;
  }
  // No sequence number >= `count` will come.
  void close(int64_t count) {
    std::lock_guard<std::mutex> lock(mu_);
    end_ = count;
    changed_.notify_all();
  }
  void abort() {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    changed_.notify_all();
  }

 private:
  int64_t window_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<int64_t, T> items_;
  int64_t next_out_ = 0;
  int64_t end_ = -1;
  bool aborted_ = false;
};

}  // namespace fid::runtime
