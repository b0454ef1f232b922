// One communicator, passed explicitly to everything that talks to peers
// (no global rank variables). Backends: MPI (CPU tensors), NCCL (CUDA
// tensors, when built with FID_WITH_NCCL) and local (a world of one).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace at { class Tensor; }

namespace fid::dist {

enum class ReduceOp { kSum, kMax, kMin };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual std::string backend() const = 0;

  virtual void barrier() = 0;
  // In place on a contiguous tensor; every rank passes the same shape and dtype.
  virtual void all_reduce(at::Tensor& t, ReduceOp op = ReduceOp::kSum) = 0;
  virtual void broadcast(at::Tensor& t, int root) = 0;

  // Raw-byte collectives used for metadata, ids and variable-length payloads.
  virtual void broadcast_bytes(std::string& data, int root) = 0;
  // Every rank gets every rank's bytes, in rank order.
  virtual std::vector<std::string> all_gather_bytes(const std::string& data) = 0;
  // Only `root` gets the vector (others get an empty one).
  virtual std::vector<std::string> gather_bytes(const std::string& data, int root) = 0;
  virtual void all_reduce_doubles(std::vector<double>& values, ReduceOp op) = 0;
  virtual void all_reduce_int64(std::vector<int64_t>& values, ReduceOp op) = 0;

  // Ends every rank's process: used when one rank failed so peers never hang.
  [[noreturn]] virtual void abort(int code) = 0;

  bool is_root() const { return rank() == 0; }
};

// Convenience wrappers over the byte collectives.
double all_reduce_sum(Communicator& comm, double value);
int64_t all_reduce_sum(Communicator& comm, int64_t value);
int64_t all_reduce_max(Communicator& comm, int64_t value);
std::string broadcast_string(Communicator& comm, std::string value, int root = 0);

}  // namespace fid::dist
