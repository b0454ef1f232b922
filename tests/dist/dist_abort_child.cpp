// Launched by test_dist_abort under mpiexec. Modes:
//   world   every rank prints its place ("rank R size S local L of N ...") and exits 0
//   abort   rank 1 calls comm.abort(3) while rank 0 waits in a barrier
//   throw   rank 1 throws fid::Error; the catch logs and aborts as `fid` main does,
//           while rank 0 waits in an all-reduce
//   sigkill rank 1 kills itself with SIGKILL while rank 0 waits in a barrier
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "dist/world.h"

int main(int argc, char** argv) {
  using namespace fid;
  const std::string mode = argc > 1 ? argv[1] : "";
  std::unique_ptr<dist::Communicator> comm;
  try {
    comm = dist::make_world({});
    if (mode == "world") {
      std::printf("rank %d size %d local %d of %d backend %s launched %d threads %d\n",
                  comm->rank(), comm->size(), comm->local_rank(), comm->local_size(),
                  comm->backend().c_str(), dist::launched_by_mpi() ? 1 : 0,
                  dist::threads_per_rank(comm->local_size(), 0));
      std::fflush(stdout);
      comm->barrier();
      comm.reset();
      dist::finalize_world();
      return 0;
    }
    if (comm->rank() == 1) {
      // Let rank 0 enter its collective first.
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (mode == "abort") comm->abort(3);
      if (mode == "sigkill") std::raise(SIGKILL);
      if (mode == "throw") FID_THROW("rank 1 failed on purpose");
      FID_THROW("unknown mode '", mode, "' (world, abort, throw, sigkill)");
    }
    if (mode == "throw") {
      std::vector<double> v{1.0};
      comm->all_reduce_doubles(v, dist::ReduceOp::kSum);
    } else {
      comm->barrier();
    }
    // Reaching here means the peer's failure did not end the job.
    std::printf("rank 0 left its collective\n");
    std::fflush(stdout);
    comm->barrier();
  } catch (const std::exception& e) {
    log::error("dist_abort_child: ", e.what());
    if (comm && comm->size() > 1) comm->abort(1);
    return 1;
  }
  dist::finalize_world();
  return 0;
}
