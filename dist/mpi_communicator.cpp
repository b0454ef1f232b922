// MPI backend for CPU tensors and byte payloads. Every MPI call is checked;
// counts above the chunk size (INT_MAX / 2 by default) are split because MPI
// counts and displacements are int.
//
// Error handling: the communicator is switched to MPI_ERRORS_RETURN so that a
// failed call becomes a fid::Error naming the call, which reaches the entry
// point's catch and from there comm.abort() -> MPI_Abort. This keeps one error
// path and a readable message; it does not add hangs because (a) peers of a
// failed rank are released by MPI_Abort exactly as with MPI_ERRORS_ARE_FATAL,
// and (b) Open MPI's runtime still kills the job when a process dies. The rule
// that makes it safe: code that catches fid::Error from a collective must
// abort, never retry or continue with peers (the CLI's main does this).
#include "dist/mpi_communicator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "common/log.h"
#include "dist/world.h"

namespace fid::dist {
namespace {

constexpr int kGatherTag = 7701;

MPI_Op to_mpi(ReduceOp op, bool logical) {
  // MPI defines only logical operations on MPI_C_BOOL: sum and max are "any".
  switch (op) {
    case ReduceOp::kSum: return logical ? MPI_LOR : MPI_SUM;
    case ReduceOp::kMax: return logical ? MPI_LOR : MPI_MAX;
    case ReduceOp::kMin: return logical ? MPI_LAND : MPI_MIN;
  }
  FID_THROW("unknown ReduceOp ", static_cast<int>(op));
}

MPI_Datatype to_mpi(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kShort: return MPI_INT16_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kChar: return MPI_INT8_T;
    case at::kBool: return MPI_C_BOOL;
    default:
      FID_THROW("MPI backend: no reduction for tensor dtype ", c10::toString(t),
                "; convert to float32, float64, int64 or int32 first");
  }
}

}  // namespace

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  FID_THROW("MPI_", what, " failed (code ", rc, "): ", std::string(text, static_cast<size_t>(len)),
            "; the job will be aborted so that no rank waits for this one");
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, int64_t chunk_elements) : comm_(comm) {
  set_chunk_elements(chunk_elements);
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(comm_, &rank_), "Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "Comm_size");
  // Ranks sharing a node: the shared-memory split works under any launcher
  // (Open MPI, SLURM, Hydra), so it is the value we use; the launcher's
  // variables only cross-check it.
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
            "Comm_split_type");
  check_mpi(MPI_Comm_rank(node, &local_rank_), "Comm_rank(node)");
  check_mpi(MPI_Comm_size(node, &local_size_), "Comm_size(node)");
  check_mpi(MPI_Comm_free(&node), "Comm_free(node)");
  if (auto env = local_placement_from_env()) {
    if (env->rank != local_rank_ || env->size != local_size_) {
      log::warn("launcher says local rank ", env->rank, " of ", env->size, " (", env->source,
                ") but the shared-memory split says ", local_rank_, " of ", local_size_,
                "; using the split");
    }
  }
}

void MpiCommunicator::set_chunk_elements(int64_t elements) {
  FID_CHECK(elements > 0 && elements <= INT_MAX, "MPI chunk size must be in [1, INT_MAX], got ",
            elements);
  chunk_ = elements;
}

void MpiCommunicator::check_root(int root, const char* what) const {
  FID_CHECK(root >= 0 && root < size_, what, ": root ", root, " is not a rank of a world of ",
            size_);
}

void MpiCommunicator::barrier() { check_mpi(MPI_Barrier(comm_), "Barrier"); }

void MpiCommunicator::all_reduce_raw(void* data, int64_t count, MPI_Datatype type,
                                     int64_t elem_bytes, ReduceOp op, const char* what) {
  auto* base = static_cast<char*>(data);
  const MPI_Op mop = to_mpi(op, type == MPI_C_BOOL);
  for (int64_t off = 0; off < count; off += chunk_) {
    const int n = static_cast<int>(std::min(chunk_, count - off));
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, base + off * elem_bytes, n, type, mop, comm_), what);
  }
}

namespace {

// A GPU tensor under the MPI backend (FID_DIST_BACKEND=mpi, or a build
// without NCCL) goes through host memory: MPI is not assumed CUDA-aware.
// True when `collective` ran on a host copy of t (copied back into t).
template <typename Collective>
bool through_host(at::Tensor& t, const Collective& collective) {
  if (t.device().is_cpu()) return false;
  at::Tensor host = t.to(at::kCPU);
  collective(host);
  t.copy_(host);
  return true;
}

}  // namespace

void MpiCommunicator::all_reduce(at::Tensor& t, ReduceOp op) {
  FID_CHECK(t.is_contiguous(), "MPI all_reduce needs a contiguous tensor");
  if (through_host(t, [&](at::Tensor& host) { all_reduce(host, op); })) return;
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) {
    // MPI has no 16-bit float reduction: reduce in float32, slice by slice so
    // that a large half buffer does not need a float copy of all of it.
    at::Tensor flat = t.view({-1});  // (numel,)
    const int64_t n = flat.numel();
    const int64_t slice = std::min<int64_t>(chunk_, int64_t{1} << 24);
    for (int64_t off = 0; off < n; off += slice) {
      at::Tensor part = flat.narrow(0, off, std::min(slice, n - off));
      at::Tensor wide = part.to(at::kFloat).contiguous();
      all_reduce_raw(wide.data_ptr(), wide.numel(), MPI_FLOAT, 4, op, "Allreduce(half)");
      part.copy_(wide);
    }
    return;
  }
  all_reduce_raw(t.data_ptr(), t.numel(), to_mpi(t.scalar_type()),
                 static_cast<int64_t>(t.element_size()), op, "Allreduce");
}

void MpiCommunicator::broadcast(at::Tensor& t, int root) {
  FID_CHECK(t.is_contiguous(), "MPI broadcast needs a contiguous tensor");
  if (through_host(t, [&](at::Tensor& host) { broadcast(host, root); })) return;
  check_root(root, "broadcast");
  broadcast_raw(t.data_ptr(), t.numel() * static_cast<int64_t>(t.element_size()), root);
}

void MpiCommunicator::broadcast_raw(void* data, int64_t bytes, int root) {
  auto* p = static_cast<char*>(data);
  for (int64_t off = 0; off < bytes; off += chunk_) {
    const int n = static_cast<int>(std::min(chunk_, bytes - off));
    check_mpi(MPI_Bcast(p + off, n, MPI_BYTE, root, comm_), "Bcast");
  }
}

void MpiCommunicator::broadcast_bytes(std::string& data, int root) {
  check_root(root, "broadcast_bytes");
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
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  std::vector<std::string> out(static_cast<size_t>(size_));
  if (total <= chunk_) {
    // Small payloads (the usual metadata): one Allgatherv, int displacements safe.
    std::vector<int> counts(sizes.begin(), sizes.end()), displs(counts.size(), 0);
    for (size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
    std::string all(static_cast<size_t>(total), '\0');
    check_mpi(MPI_Allgatherv(data.data(), static_cast<int>(mine), MPI_BYTE, all.data(),
                             counts.data(), displs.data(), MPI_BYTE, comm_),
              "Allgatherv");
    for (size_t r = 0; r < counts.size(); ++r) out[r] = all.substr(displs[r], counts[r]);
    return out;
  }
  // Beyond the chunk: one chunked broadcast per rank keeps every count an int.
  for (int r = 0; r < size_; ++r) {
    out[r] = r == rank_ ? data : std::string(static_cast<size_t>(sizes[r]), '\0');
    broadcast_raw(out[r].data(), sizes[r], r);
  }
  return out;
}

void MpiCommunicator::send_chunked(const char* data, int64_t bytes, int dest, int tag) {
  for (int64_t off = 0; off < bytes; off += chunk_) {
    const int n = static_cast<int>(std::min(chunk_, bytes - off));
    check_mpi(MPI_Send(data + off, n, MPI_BYTE, dest, tag, comm_), "Send");
  }
}

void MpiCommunicator::recv_chunked(char* data, int64_t bytes, int source, int tag) {
  // Messages between one pair with one tag arrive in order, so chunks need no index.
  for (int64_t off = 0; off < bytes; off += chunk_) {
    const int n = static_cast<int>(std::min(chunk_, bytes - off));
    check_mpi(MPI_Recv(data + off, n, MPI_BYTE, source, tag, comm_, MPI_STATUS_IGNORE), "Recv");
  }
}

std::vector<std::string> MpiCommunicator::gather_bytes(const std::string& data, int root) {
  check_root(root, "gather_bytes");
  // Every rank learns every size so that all take the same path below.
  std::vector<int64_t> sizes(static_cast<size_t>(size_));
  int64_t mine = static_cast<int64_t>(data.size());
  check_mpi(MPI_Allgather(&mine, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, comm_),
            "Allgather(sizes)");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  std::vector<std::string> out;
  if (rank_ == root) out.resize(static_cast<size_t>(size_));
  if (total <= chunk_) {
    std::vector<int> counts(sizes.begin(), sizes.end()), displs(counts.size(), 0);
    for (size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
    std::string all(rank_ == root ? static_cast<size_t>(total) : 0, '\0');
    check_mpi(MPI_Gatherv(data.data(), static_cast<int>(mine), MPI_BYTE, all.data(),
                          counts.data(), displs.data(), MPI_BYTE, root, comm_),
              "Gatherv");
    if (rank_ == root) {
      for (size_t r = 0; r < counts.size(); ++r) out[r] = all.substr(displs[r], counts[r]);
    }
    return out;
  }
  if (rank_ == root) {
    for (int r = 0; r < size_; ++r) {
      if (r == root) {
        out[r] = data;
        continue;
      }
      out[r].resize(static_cast<size_t>(sizes[r]));
      recv_chunked(out[r].data(), sizes[r], r, kGatherTag);
    }
  } else {
    send_chunked(data.data(), mine, root, kGatherTag);
  }
  return out;
}

void MpiCommunicator::all_reduce_doubles(std::vector<double>& v, ReduceOp op) {
  all_reduce_raw(v.data(), static_cast<int64_t>(v.size()), MPI_DOUBLE, sizeof(double), op,
                 "Allreduce(double)");
}

void MpiCommunicator::all_reduce_int64(std::vector<int64_t>& v, ReduceOp op) {
  all_reduce_raw(v.data(), static_cast<int64_t>(v.size()), MPI_INT64_T, sizeof(int64_t), op,
                 "Allreduce(int64)");
}

void MpiCommunicator::abort(int code) {
  // Flush what this rank logged before the launcher kills its peers.
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(comm_, code);
  std::_Exit(code);
}

}  // namespace fid::dist
