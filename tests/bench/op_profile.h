// Operator self times of a code region, from LibTorch's legacy profiler:
// which operators (and, by input shapes, which products) a step spends its
// time in. Used by the benchmarks' --profile option.
#pragma once
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fid::bench {

// Self time per operator over the recorded ranges (nested ranges subtract
// from their parent), largest first.
inline void print_profile(const torch::autograd::profiler::thread_event_lists& lists, double total_s, bool by_shapes) {
  using torch::autograd::profiler::EventKind;
  using torch::autograd::profiler::LegacyEvent;
  std::map<std::string, std::pair<double, int64_t>> self;  // key -> (us, calls)
  for (const auto& events : lists) {
    struct Open {
      const LegacyEvent* e;
      double child_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == EventKind::PopRange && !stack.empty()) {
        const Open o = stack.back();
        stack.pop_back();
        const double us = o.e->cpuElapsedUs(e);
        std::string key = o.e->name();
        if (by_shapes) {
          for (const auto& shape : o.e->shapes()) {
            key += " [";
            for (size_t i = 0; i < shape.size(); ++i) key += (i ? "," : "") + std::to_string(shape[i]);
            key += "]";
          }
        }
        auto& s = self[key];
        s.first += us - o.child_us;
        s.second += 1;
        if (!stack.empty()) stack.back().child_us += us;
      }
    }
  }
  std::vector<std::pair<double, std::string>> order;
  for (auto& [k, v] : self) order.emplace_back(v.first, k);
  std::sort(order.rbegin(), order.rend());
  std::printf("PROFILE step %.3f s; operator self time:\n", total_s);
  for (size_t i = 0; i < order.size() && i < 40; ++i)
    std::printf("PROFILE %10.1f ms %5.1f%% %7lld calls  %s\n", order[i].first / 1e3,
                100.0 * order[i].first / 1e6 / total_s, (long long)self[order[i].second].second,
                order[i].second.c_str());
}

using Profiler = torch::autograd::profiler::TLSLegacyProfilerGuard;
// Starts profiling; the table is printed when the returned guard is destroyed.
inline std::unique_ptr<Profiler> start_profile(bool by_shapes) {
  const auto t0 = std::chrono::steady_clock::now();
  return std::make_unique<Profiler>(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, by_shapes),
      [t0, by_shapes](const torch::autograd::profiler::thread_event_lists& l) {
        print_profile(l, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), by_shapes);
      });
}

}  // namespace fid::bench
