// MPI all-reduce bandwidth of the communicator, as data-parallel training
// uses it (float32 buffers the size of a gradient bucket and larger).
// Run: mpiexec -n 2 --oversubscribe build/bench/bench_dist [iterations]
// algbw = bytes / time; busbw = algbw * 2(W-1)/W, the traffic per rank of a
// ring all-reduce, comparable across world sizes (NCCL tests' convention).
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#include "common/log.h"
#include "dist/world.h"

namespace {

struct Result {
  double mb;
  double seconds;  // median over iterations, slowest rank
  double algbw;    // GB/s
  double busbw;    // GB/s
  double local;    // GB/s of an in-place add of two such buffers on one rank
};

// The arithmetic and memory traffic of one reduction step without any
// communication: the ceiling the all-reduce is compared against.
double local_add_gbps(int64_t bytes, int iterations) {
  at::Tensor a = at::ones({bytes / 4}, at::kFloat), b = at::ones({bytes / 4}, at::kFloat);
  a.add_(b);
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    a.add_(b);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return static_cast<double>(bytes) / times[times.size() / 2] / 1e9;
}

Result measure(fid::dist::Communicator& comm, int64_t bytes, int iterations) {
  at::Tensor buf = at::ones({bytes / 4}, at::kFloat);  // (bytes / 4,)
  for (int i = 0; i < 2; ++i) comm.all_reduce(buf);  // warm-up: pages, connections
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    comm.barrier();
    auto start = std::chrono::steady_clock::now();
    comm.all_reduce(buf);
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The collective is as slow as its slowest rank.
    std::vector<double> v{t};
    comm.all_reduce_doubles(v, fid::dist::ReduceOp::kMax);
    times.push_back(v[0]);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const int w = comm.size();
  Result r;
  r.mb = static_cast<double>(bytes) / (1 << 20);
  r.seconds = median;
  r.algbw = static_cast<double>(bytes) / median / 1e9;
  r.busbw = r.algbw * 2.0 * (w - 1) / w;
  r.local = local_add_gbps(bytes, iterations);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fid;
  std::unique_ptr<dist::Communicator> comm;
  try {
    const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
    comm = dist::make_world({});
    std::vector<Result> results;
    for (int64_t mb : {1, 25, 100}) results.push_back(measure(*comm, mb << 20, iterations));
    if (comm->is_root()) {
      std::printf("MPI all_reduce (float32, sum), %d ranks (%d on this node), backend %s, "
                  "median of %d\n",
                  comm->size(), comm->local_size(), comm->backend().c_str(), iterations);
      // Shared machines skew these figures; the load says how much.
      double load[1] = {0.0};
      if (getloadavg(load, 1) == 1) {
        std::printf("load average %.1f on %u hardware threads\n", load[0],
                    std::thread::hardware_concurrency());
      }
      std::printf("%10s %12s %14s %14s %18s\n", "size (MB)", "time (ms)", "algbw (GB/s)",
                  "busbw (GB/s)", "local add (GB/s)");
      for (const Result& r : results) {
        std::printf("%10.0f %12.3f %14.3f %14.3f %18.3f\n", r.mb, r.seconds * 1e3, r.algbw,
                    r.busbw, r.local);
      }
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    log::error("bench_dist: ", e.what());
    if (comm && comm->size() > 1) comm->abort(1);
    return 1;
  }
  comm.reset();
  dist::finalize_world();
  return 0;
}
