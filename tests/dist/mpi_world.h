// The world communicator shared by the MPI test files of test_dist_mpi
// (created before the first test, finalised after the last).
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace fid::dist::testing {
Communicator& world();
}  // namespace fid::dist::testing
