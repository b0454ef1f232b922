// For GoogleTest suites run under mpiexec: an environment that opens the MPI
// world before the first test and finalises it after the last, and the
// communicator the tests use in between; a scratch directory all ranks share.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "dist/communicator.h"
#include "dist/world.h"
#include "support/test_util.h"

namespace fid::testing {

class MpiWorldEnvironment : public ::testing::Environment {
 public:
  // threads > 0: the intra-op threads of each rank once the world is open.
  explicit MpiWorldEnvironment(int threads = 0) : threads_(threads) {}
  void SetUp() override {
    comm_ = dist::make_world({});
    if (threads_ > 0) dist::configure_threads(threads_);
    world() = comm_.get();
  }
  void TearDown() override {
    world() = nullptr;
    comm_.reset();
    dist::finalize_world();
  }
  // The open world; nullptr before SetUp and after TearDown.
  static dist::Communicator*& world() {
    static dist::Communicator* w = nullptr;
    return w;
  }

 private:
  int threads_;
  std::unique_ptr<dist::Communicator> comm_;
};

// A scratch directory made by rank 0 of the open world, known to all ranks,
// removed by rank 0 after a barrier.
class SharedTempDir {
 public:
  explicit SharedTempDir(const std::string& tag = "fid-mpi") {
    dist::Communicator& comm = *MpiWorldEnvironment::world();
    if (comm.rank() == 0) dir_ = std::make_unique<TempDir>(tag);
    path_ = dist::broadcast_string(comm, dir_ ? dir_->path() : "", 0);
  }
  ~SharedTempDir() { MpiWorldEnvironment::world()->barrier(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::unique_ptr<TempDir> dir_;
  std::string path_;
};

}  // namespace fid::testing
