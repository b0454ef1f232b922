// A world of one: every collective is the identity (on CPU and GPU tensors
// alike), but arguments are checked as the MPI backend checks them so that a
// mistake shows up in single-process runs too.
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "dist/communicator.h"
#include "dist/world.h"

namespace fid::dist {
namespace {

void check_root(int root, const char* what) {
  FID_CHECK(root == 0, what, ": root ", root, " is not a rank of a world of 1");
}

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void barrier() override {}
  void all_reduce(at::Tensor& t, ReduceOp) override {
    FID_CHECK(t.defined(), "all_reduce of an undefined tensor");
  }
  void broadcast(at::Tensor& t, int root) override {
    FID_CHECK(t.defined(), "broadcast of an undefined tensor");
    check_root(root, "broadcast");
  }
  void broadcast_bytes(std::string&, int root) override { check_root(root, "broadcast_bytes"); }
  std::vector<std::string> all_gather_bytes(const std::string& data) override { return {data}; }
  std::vector<std::string> gather_bytes(const std::string& data, int root) override {
    check_root(root, "gather_bytes");
    return {data};
  }
  void all_reduce_doubles(std::vector<double>&, ReduceOp) override {}
  void all_reduce_int64(std::vector<int64_t>&, ReduceOp) override {}
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() {
  return std::make_unique<LocalCommunicator>();
}

}  // namespace fid::dist
