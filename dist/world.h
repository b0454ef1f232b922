// Process start-up: decides whether this process runs under an MPI launcher,
// creates the world communicator, sets the threads each rank may use, and
// tears MPI down at exit.
#pragma once
#include <memory>

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
// rank and the thread counts.
std::unique_ptr<Communicator> make_world(const WorldOptions& options);

// Threads for this rank: `override` when > 0, else hardware threads of the
// node / ranks on the node (at least 1).
int threads_per_rank(int local_size, int override);
// Applies the count to LibTorch (intra and inter op), OpenMP and OpenBLAS.
void configure_threads(int threads);

// MPI_Finalize when MPI was initialised; safe to call more than once.
void finalize_world();

std::unique_ptr<Communicator> make_local_communicator();

}  // namespace fid::dist
