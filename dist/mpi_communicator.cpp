// MPI backend for CPU tensors and byte payloads. Every MPI call is checked;
// counts above INT_MAX are split into chunks because MPI counts are int.
#include <ATen/ATen.h>
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "common/error.h"
#include "dist/mpi_communicator.h"

namespace fid::dist {
namespace {

constexpr int64_t kChunk = INT_MAX / 2;  // elements per MPI call, well under INT_MAX

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  FID_THROW("MPI ", what, " failed: ", std::string(text, static_cast<size_t>(len)));
}

MPI_Op to_mpi(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

MPI_Datatype to_mpi(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kChar: return MPI_INT8_T;
    case at::kBool: return MPI_C_BOOL;
    default: FID_THROW("MPI backend: unsupported tensor dtype ", c10::toString(t));
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  check_mpi(MPI_Comm_rank(comm_, &rank_), "Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "Comm_size");
  // Ranks sharing a node: from the shared-memory split, which works under any
  // launcher (Open MPI, SLURM, Hydra).
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
            "Comm_split_type");
  check_mpi(MPI_Comm_rank(node, &local_rank_), "Comm_rank(node)");
  check_mpi(MPI_Comm_size(node, &local_size_), "Comm_size(node)");
  MPI_Comm_free(&node);
}

void MpiCommunicator::barrier() { check_mpi(MPI_Barrier(comm_), "Barrier"); }

void MpiCommunicator::all_reduce(at::Tensor& t, ReduceOp op) {
  FID_CHECK(t.device().is_cpu(), "MPI all_reduce needs a CPU tensor (use the NCCL backend on GPU)");
  FID_CHECK(t.is_contiguous(), "MPI all_reduce needs a contiguous tensor");
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) {
    // MPI has no reduction for 16-bit floats: reduce in float32.
    at::Tensor wide = t.to(at::kFloat);
    all_reduce(wide, op);
    t.copy_(wide);
    return;
  }
  MPI_Datatype type = to_mpi(t.scalar_type());
  const int64_t n = t.numel();
  auto* base = static_cast<char*>(t.data_ptr());
  const int64_t elem = static_cast<int64_t>(t.element_size());
  for (int64_t off = 0; off < n; off += kChunk) {
    int count = static_cast<int>(std::min(kChunk, n - off));
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, base + off * elem, count, type, to_mpi(op), comm_),
              "Allreduce");
  }
}

void MpiCommunicator::broadcast(at::Tensor& t, int root) {
  FID_CHECK(t.device().is_cpu() && t.is_contiguous(), "MPI broadcast needs a contiguous CPU tensor");
  broadcast_raw(t.data_ptr(), t.numel() * static_cast<int64_t>(t.element_size()), root);
}

void MpiCommunicator::broadcast_raw(void* data, int64_t bytes, int root) {
  auto* p = static_cast<char*>(data);
  for (int64_t off = 0; off < bytes; off += kChunk) {
    int count = static_cast<int>(std::min(kChunk, bytes - off));
    check_mpi(MPI_Bcast(p + off, count, MPI_BYTE, root, comm_), "Bcast");
  }
}

void MpiCommunicator::broadcast_bytes(std::string& data, int root) {
  int64_t n = static_cast<int64_t>(data.size());
  check_mpi(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_), "Bcast(size)");
  data.resize(static_cast<size_t>(n));
  broadcast_raw(data.data(), n, root);
}

std::vector<std::string> MpiCommunicator::all_gather_bytes(const std::string& data) {
  std::vector<int64_t> sizes(static_cast<size_t>(size_));
  int64_t mine = static_cast<int64_t>(data.size());
  check_mpi(MPI_Allgather(&mine, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, comm_),
            "Allgather(sizes)");
  // One broadcast per rank keeps every count chunkable (Allgatherv takes int
  // displacements, which overflow beyond 2 GiB in total).
  std::vector<std::string> out(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) {
    out[r] = r == rank_ ? data : std::string(static_cast<size_t>(sizes[r]), '\0');
    broadcast_raw(out[r].data(), sizes[r], r);
  }
  return out;
}

std::vector<std::string> MpiCommunicator::gather_bytes(const std::string& data, int root) {
  std::vector<int64_t> sizes(static_cast<size_t>(size_));
  int64_t mine = static_cast<int64_t>(data.size());
  check_mpi(MPI_Gather(&mine, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, root, comm_),
            "Gather(sizes)");
  std::vector<std::string> out;
  if (rank_ == root) {
    out.resize(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      if (r == root) { out[r] = data; continue; }
      out[r].resize(static_cast<size_t>(sizes[r]));
      for (int64_t off = 0; off < sizes[r]; off += kChunk) {
        int count = static_cast<int>(std::min(kChunk, sizes[r] - off));
        check_mpi(MPI_Recv(out[r].data() + off, count, MPI_BYTE, r, 77, comm_, MPI_STATUS_IGNORE),
                  "Recv");
      }
    }
  } else {
    for (int64_t off = 0; off < mine; off += kChunk) {
      int count = static_cast<int>(std::min(kChunk, mine - off));
      check_mpi(MPI_Send(data.data() + off, count, MPI_BYTE, root, 77, comm_), "Send");
    }
  }
  return out;
}

void MpiCommunicator::all_reduce_doubles(std::vector<double>& v, ReduceOp op) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE,
                          to_mpi(op), comm_), "Allreduce(double)");
}

void MpiCommunicator::all_reduce_int64(std::vector<int64_t>& v, ReduceOp op) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_INT64_T,
                          to_mpi(op), comm_), "Allreduce(int64)");
}

void MpiCommunicator::abort(int code) {
  MPI_Abort(comm_, code);
  std::_Exit(code);
}

}  // namespace fid::dist
