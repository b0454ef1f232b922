// The MPI backend (see communicator.h). Exposed so that the NCCL backend can
// reuse it for its unique-id broadcast and byte collectives, and so that tests
// can shrink the chunk size.
#pragma once
#include <mpi.h>

#include <climits>
#include <cstdint>

#include "dist/communicator.h"

namespace fid::dist {

// Throws fid::Error naming the MPI call and MPI's own error text when rc is
// not MPI_SUCCESS.
void check_mpi(int rc, const char* what);

class MpiCommunicator : public Communicator {
 public:
  // Elements per MPI call: MPI counts are int, so larger buffers are split.
  static constexpr int64_t kDefaultChunk = INT_MAX / 2;

  // Uses `comm` as is (no duplicate) and makes its MPI errors return codes,
  // which check_mpi turns into fid::Error (see mpi_communicator.cpp).
  explicit MpiCommunicator(MPI_Comm comm, int64_t chunk_elements = kDefaultChunk);
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
  int64_t chunk_elements() const { return chunk_; }
  // Tests set a tiny chunk (e.g. 7) so that small buffers take the chunk loop.
  void set_chunk_elements(int64_t elements);

 protected:
  // In place, `count` elements of `type` (each `elem_bytes` wide), chunked.
  void all_reduce_raw(void* data, int64_t count, MPI_Datatype type, int64_t elem_bytes,
                      ReduceOp op, const char* what);
  void broadcast_raw(void* data, int64_t bytes, int root);
  void check_root(int root, const char* what) const;

 private:
  void send_chunked(const char* data, int64_t bytes, int dest, int tag);
  void recv_chunked(char* data, int64_t bytes, int source, int tag);

  MPI_Comm comm_;
  int64_t chunk_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

}  // namespace fid::dist
