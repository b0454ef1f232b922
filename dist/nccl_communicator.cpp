// NCCL for CUDA tensors, MPI (the base class) for everything else. Counts are
// size_t in NCCL, so no chunking is needed here. Operations are enqueued on
// LibTorch's current stream of the tensor's device, so they order with the
// kernels that produced the gradients without a host synchronisation.
#include "dist/nccl_communicator.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "common/error.h"
#include "common/log.h"
#include "dist/mpi_communicator.h"

namespace fid::dist {
namespace {

void check_nccl(ncclResult_t rc, const char* what) {
  if (rc == ncclSuccess) return;
  FID_THROW("NCCL ", what, " failed: ", ncclGetErrorString(rc),
            " (NCCL_DEBUG=WARN shows NCCL's own diagnosis)");
}

void check_cuda(cudaError_t rc, const char* what) {
  if (rc == cudaSuccess) return;
  FID_THROW("CUDA ", what, " failed: ", cudaGetErrorString(rc));
}

ncclDataType_t to_nccl(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
    case at::kBFloat16: return ncclBfloat16;
#endif
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte: return ncclUint8;
    case at::kChar: return ncclInt8;
    case at::kBool: return ncclUint8;
    default:
      FID_THROW("NCCL backend: no reduction for tensor dtype ", c10::toString(t),
                "; convert to float32, float16, int64 or int32 first");
  }
}

ncclRedOp_t to_nccl(ReduceOp op, bool logical) {
  // Bools are bytes of 0/1: "sum" means "any", as in the MPI backend.
  switch (op) {
    case ReduceOp::kSum: return logical ? ncclMax : ncclSum;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kMin: return ncclMin;
  }
  FID_THROW("unknown ReduceOp ", static_cast<int>(op));
}

class NcclCommunicator final : public MpiCommunicator {
 public:
  explicit NcclCommunicator(MPI_Comm comm) : MpiCommunicator(comm) {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    FID_CHECK(devices > 0, "the NCCL backend needs a CUDA device, and rank ", rank(),
              " sees none (check CUDA_VISIBLE_DEVICES)");
    // NCCL refuses two ranks of one communicator on the same device.
    FID_CHECK(local_size() <= devices, local_size(), " ranks on this node but only ", devices,
              " CUDA devices: start at most ", devices, " ranks per node with the NCCL backend");
    device_ = local_rank();
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    ncclUniqueId id;
    if (rank() == 0) check_nccl(ncclGetUniqueId(&id), "GetUniqueId");
    broadcast_raw(&id, static_cast<int64_t>(sizeof id), 0);
    check_nccl(ncclCommInitRank(&nccl_, size(), id, rank()), "CommInitRank");
  }

  ~NcclCommunicator() override {
    if (nccl_ != nullptr) ncclCommDestroy(nccl_);
  }

  std::string backend() const override { return "nccl"; }

  void barrier() override {
    // Work already queued on this rank's device counts as "before the barrier".
    check_cuda(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream(device_).stream()),
               "cudaStreamSynchronize");
    MpiCommunicator::barrier();
  }

  void all_reduce(at::Tensor& t, ReduceOp op) override {
    if (!t.is_cuda()) return MpiCommunicator::all_reduce(t, op);
    check_device_tensor(t, "all_reduce");
    c10::cuda::CUDAGuard guard(t.device());
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    check_nccl(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                             to_nccl(t.scalar_type()),
                             to_nccl(op, t.scalar_type() == at::kBool), nccl_, stream),
               "AllReduce");
  }

  void broadcast(at::Tensor& t, int root) override {
    if (!t.is_cuda()) return MpiCommunicator::broadcast(t, root);
    check_device_tensor(t, "broadcast");
    check_root(root, "broadcast");
    c10::cuda::CUDAGuard guard(t.device());
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    // Bytes: a broadcast copies, so any dtype goes.
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    check_nccl(ncclBroadcast(t.data_ptr(), t.data_ptr(), bytes, ncclUint8, root, nccl_, stream),
               "Broadcast");
  }

  [[noreturn]] void abort(int code) override {
    // Releases peers blocked inside NCCL kernels; MPI_Abort then ends the job.
    if (nccl_ != nullptr) ncclCommAbort(nccl_);
    nccl_ = nullptr;
    MpiCommunicator::abort(code);
  }

 private:
  void check_device_tensor(const at::Tensor& t, const char* what) const {
    FID_CHECK(t.is_contiguous(), "NCCL ", what, " needs a contiguous tensor");
    FID_CHECK(t.device().index() == device_, "NCCL ", what, ": tensor is on ", t.device(),
              " but this rank's device is cuda:", device_);
  }

  ncclComm_t nccl_ = nullptr;
  int device_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm) {
  auto c = std::make_unique<NcclCommunicator>(comm);
  log::info("NCCL backend on cuda:", c->local_rank(), " (NCCL ", NCCL_MAJOR, ".", NCCL_MINOR, ")");
  return c;
}

}  // namespace fid::dist
