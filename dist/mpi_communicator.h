// The MPI backend (see communicator.h). Exposed so that the NCCL backend can
// reuse it for its unique-id broadcast and byte collectives.
#pragma once
#include <mpi.h>

#include "dist/communicator.h"

namespace fid::dist {

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }
  void barrier() override;
  void all_reduce(at::Tensor& t, ReduceOp op) override;
  void broadcast(at::Tensor& t, int root) override;
  void broadcast_bytes(std::string& data, int root) override;
  std::vector<std::string> all_gather_bytes(const std::string& data) override;
  std::vector<std::string> gather_bytes(const std::string& data, int root) override;
  void all_reduce_doubles(std::vector<double>& values, ReduceOp op) override;
  void all_reduce_int64(std::vector<int64_t>& values, ReduceOp op) override;
  [[noreturn]] void abort(int code) override;
  MPI_Comm comm() const { return comm_; }

 private:
  void broadcast_raw(void* data, int64_t bytes, int root);
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

}  // namespace fid::dist
