// The NCCL backend: CUDA tensors are reduced and broadcast with NCCL on the
// current CUDA stream; CPU tensors and byte payloads go through MPI, which
// also carries NCCL's unique id from rank 0 to the others. Compiled only when
// the build found NCCL (FID_HAVE_NCCL); nccl.h stays out of this header.
#pragma once
#include <mpi.h>

#include <memory>

#include "dist/communicator.h"

namespace fid::dist {

// Collective over all ranks of `comm`: selects CUDA device (local rank), then
// builds the NCCL communicator. Refuses more ranks per node than devices.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm);

}  // namespace fid::dist
