// A world of one: every collective is the identity.
#include <ATen/ATen.h>

#include <cstdlib>

#include "dist/communicator.h"
#include "dist/world.h"

namespace fid::dist {
namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void barrier() override {}
  void all_reduce(at::Tensor&, ReduceOp) override {}
  void broadcast(at::Tensor&, int) override {}
  void broadcast_bytes(std::string&, int) override {}
  std::vector<std::string> all_gather_bytes(const std::string& data) override { return {data}; }
  std::vector<std::string> gather_bytes(const std::string& data, int) override { return {data}; }
  void all_reduce_doubles(std::vector<double>&, ReduceOp) override {}
  void all_reduce_int64(std::vector<int64_t>&, ReduceOp) override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() {
  return std::make_unique<LocalCommunicator>();
}

}  // namespace fid::dist
