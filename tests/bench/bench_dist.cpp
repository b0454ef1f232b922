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
#include <vector>

#include "common/log.h"
#include "dist/world.h"

namespace {

struct Result {
  double mb;
  double seconds;  // median over iterations, slowest rank
  double algbw;    // GB/s
  double busbw;    // GB/s
};

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
      std::printf("%10s %12s %14s %14s\n", "size (MB)", "time (ms)", "algbw (GB/s)",
                  "busbw (GB/s)");
      for (const Result& r : results) {
        std::printf("%10.0f %12.3f %14.3f %14.3f\n", r.mb, r.seconds * 1e3, r.algbw, r.busbw);
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
