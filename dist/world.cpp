// Start-up of a rank: launcher detection, the world communicator, threads per
// rank, and the launcher's view of where this rank sits on its node.
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
#ifdef FID_HAVE_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace fid::dist {
namespace {
bool g_mpi_initialised = false;

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

// A non-negative integer variable, or -1 when unset or not a number.
int env_count(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0 || n > 1 << 20) return -1;
  return static_cast<int>(n);
}

void init_mpi() {
  int already = 0;
  check_mpi(MPI_Initialized(&already), "Initialized");
  if (already) return;
  int provided = 0;
  // Only the main thread talks to MPI; LibTorch's pools never do.
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  FID_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed (code ", rc,
            "); check that mpirun/srun and this build use the same MPI");
  g_mpi_initialised = true;
  if (provided < MPI_THREAD_FUNNELED) {
    log::warn("MPI provides thread level ", provided, " < MPI_THREAD_FUNNELED; collectives stay "
              "on the main thread, which is what this program does");
  }
}
}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

int threads_per_rank(int local_size, int override, int node_cores, int bound_cores) {
  if (override > 0) return override;
  int per_rank = std::max(1, node_cores / std::max(1, local_size));
  // A launcher that binds ranks to cores already gives each rank its share.
  if (bound_cores > 0) per_rank = std::min(per_rank, bound_cores);
  return std::max(1, per_rank);
}

int threads_per_rank(int local_size, int override) {
  return threads_per_rank(local_size, override,
                          static_cast<int>(std::thread::hardware_concurrency()), affinity_cores());
}

void configure_threads(int threads) {
  FID_CHECK(threads > 0, "thread count must be positive, got ", threads, " (see --threads)");
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

int slurm_tasks_on_node(const std::string& text, int node_id) {
  // Comma-separated groups "N" or "N(xK)".
  int node = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string group = text.substr(pos, end - pos);
    char* rest = nullptr;
    long tasks = std::strtol(group.c_str(), &rest, 10);
    if (rest == group.c_str() || tasks <= 0) return 0;
    long repeat = 1;
    if (*rest == '(') {
      if (rest[1] != 'x') return 0;
      char* close = nullptr;
      repeat = std::strtol(rest + 2, &close, 10);
      if (repeat <= 0 || *close != ')' || close[1] != '\0') return 0;
    } else if (*rest != '\0') {
      return 0;
    }
    if (node_id < node + repeat) return static_cast<int>(tasks);
    node += static_cast<int>(repeat);
    pos = end + 1;
  }
  return 0;
}

std::optional<LocalPlacement> local_placement_from_env() {
  // Open MPI first: under mpirun inside an sbatch job the SLURM variables are
  // the batch step's, inherited by every rank, and would all say rank 0.
  int r = env_count("OMPI_COMM_WORLD_LOCAL_RANK"), s = env_count("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (r >= 0 && s > r) return LocalPlacement{r, s, "OMPI_COMM_WORLD_LOCAL_RANK/SIZE"};
  r = env_count("MPI_LOCALRANKID");
  s = env_count("MPI_LOCALNRANKS");
  if (r >= 0 && s > r) return LocalPlacement{r, s, "MPI_LOCALRANKID/MPI_LOCALNRANKS"};
  r = env_count("SLURM_LOCALID");
  if (r < 0) return std::nullopt;
  s = env_count("SLURM_NTASKS_PER_NODE");
  if (s > r) return LocalPlacement{r, s, "SLURM_LOCALID/SLURM_NTASKS_PER_NODE"};
  const char* per_node = std::getenv("SLURM_STEP_TASKS_PER_NODE");
  if (per_node == nullptr) per_node = std::getenv("SLURM_TASKS_PER_NODE");
  int node = env_count("SLURM_NODEID");
  if (per_node != nullptr && node >= 0) {
    s = slurm_tasks_on_node(per_node, node);
    if (s > r) return LocalPlacement{r, s, "SLURM_LOCALID/SLURM_TASKS_PER_NODE"};
  }
  return std::nullopt;
}

std::unique_ptr<Communicator> make_world(const WorldOptions& options) {
  std::unique_ptr<Communicator> comm;
  if (launched_by_mpi()) {
    init_mpi();
    if (options.nccl) {
#ifdef FID_HAVE_NCCL
      comm = make_nccl_communicator(MPI_COMM_WORLD);
#else
      FID_THROW("the NCCL backend is not compiled into this build (rebuild with a CUDA LibTorch, "
                "the CUDA toolkit and nccl.h; FID_WITH_NCCL=ON makes CMake insist)");
#endif
    } else {
      comm = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
    }
  } else {
#ifndef FID_HAVE_NCCL
    FID_CHECK(!options.nccl, "the NCCL backend is not compiled into this build (rebuild with a "
              "CUDA LibTorch, the CUDA toolkit and nccl.h; FID_WITH_NCCL=ON makes CMake insist)");
#endif
    // A world of one has nothing to reduce, on CPU or GPU.
    comm = make_local_communicator();
  }
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
