// Process start-up: decides whether this process runs under an MPI launcher,
// creates the world communicator, sets the threads each rank may use, and
// tears MPI down at exit.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "dist/communicator.h"

namespace fid::dist {

struct WorldOptions {
  // Intra-op threads per rank; 0 = cores of the node divided by ranks on it.
  int threads = 0;
  // Use the NCCL backend for tensor collectives (CUDA builds only).
  bool nccl = false;
};

// True when a launcher (mpirun, srun) started this process.
bool launched_by_mpi();

// MPI when launched by a launcher, else a local world of one. Sets the log
// rank and the thread counts. With options.nccl, CUDA tensors go through NCCL
// (device = local rank); a build without NCCL refuses the option.
std::unique_ptr<Communicator> make_world(const WorldOptions& options);

// Threads for this rank: `override` when > 0, else hardware threads of the
// node / ranks on the node (at least 1).
int threads_per_rank(int local_size, int override);
// The same rule with the machine given: `node_cores` hardware threads on the
// node, `bound_cores` cores this process may run on (0 = unknown).
int threads_per_rank(int local_size, int override, int node_cores, int bound_cores);
// Applies the count to LibTorch (intra and inter op), OpenMP and OpenBLAS.
void configure_threads(int threads);

// This process's place on its node as the launcher reports it: Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK/_LOCAL_SIZE, MPICH's MPI_LOCALRANKID/
// MPI_LOCALNRANKS, or SLURM's SLURM_LOCALID with SLURM_NTASKS_PER_NODE or
// SLURM_TASKS_PER_NODE/SLURM_NODEID. Empty when none is set.
struct LocalPlacement {
  int rank = 0;
  int size = 1;
  std::string source;  // which variables gave it
};
std::optional<LocalPlacement> local_placement_from_env();
// SLURM_TASKS_PER_NODE ("2(x3),1": nodes 0-2 run 2 tasks, node 3 runs 1)
// -> tasks on node `node_id`; 0 when the text does not parse or is too short.
int slurm_tasks_on_node(const std::string& tasks_per_node, int node_id);

// MPI_Finalize when MPI was initialised; safe to call more than once.
void finalize_world();

std::unique_ptr<Communicator> make_local_communicator();

}  // namespace fid::dist
