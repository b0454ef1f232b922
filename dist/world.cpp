#include "dist/world.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <mpi.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "dist/mpi_communicator.h"

namespace fid::dist {
namespace {
bool g_mpi_initialised = false;

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}
}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

int threads_per_rank(int local_size, int override) {
  if (override > 0) return override;
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  int per_rank = std::max(1, hw / std::max(1, local_size));
  // A launcher that binds ranks to cores already gives each rank its share.
  int bound = affinity_cores();
  if (bound > 0) per_rank = std::min(per_rank, bound);
  return std::max(1, per_rank);
}

void configure_threads(int threads) {
  at::set_num_threads(threads);
  // Inter-op threads can be set once per process only; later calls throw.
  try {
    at::set_num_interop_threads(1);
  } catch (...) {
  }
  omp_set_num_threads(threads);
  // OpenBLAS keeps its own pool; its setter exists only when OpenBLAS is loaded.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    fn(threads);
  }
}

std::unique_ptr<Communicator> make_world(const WorldOptions& options) {
  std::unique_ptr<Communicator> comm;
  if (launched_by_mpi()) {
    if (!g_mpi_initialised) {
      int provided = 0;
      int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      FID_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed (code ", rc, ")");
      g_mpi_initialised = true;
    }
    comm = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  } else {
    comm = make_local_communicator();
  }
  FID_CHECK(!options.nccl, "the NCCL backend is not compiled into this build "
            "(rebuild with a CUDA LibTorch and FID_WITH_NCCL=ON)");
  log::set_rank(comm->rank(), comm->size());
  int threads = threads_per_rank(comm->local_size(), options.threads);
  configure_threads(threads);
  log::debug("world: backend ", comm->backend(), ", ", comm->size(), " ranks, ",
             comm->local_size(), " on this node, ", threads, " threads per rank");
  return comm;
}

void finalize_world() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_mpi_initialised && !finalized) MPI_Finalize();
}

double all_reduce_sum(Communicator& comm, double value) {
  std::vector<double> v{value};
  comm.all_reduce_doubles(v, ReduceOp::kSum);
  return v[0];
}

int64_t all_reduce_sum(Communicator& comm, int64_t value) {
  std::vector<int64_t> v{value};
  comm.all_reduce_int64(v, ReduceOp::kSum);
  return v[0];
}

int64_t all_reduce_max(Communicator& comm, int64_t value) {
  std::vector<int64_t> v{value};
  comm.all_reduce_int64(v, ReduceOp::kMax);
  return v[0];
}

std::string broadcast_string(Communicator& comm, std::string value, int root) {
  comm.broadcast_bytes(value, root);
  return value;
}

}  // namespace fid::dist
