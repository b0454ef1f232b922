// For GoogleTest suites run under mpiexec: an environment that opens the MPI
// world before the first test and finalises it after the last, and the
// communicator the tests use in between.
#pragma once
#include <gtest/gtest.h>

#include <memory>

#include "dist/communicator.h"
#include "dist/world.h"

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

}  // namespace fid::testing
