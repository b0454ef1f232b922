// The NCCL backend against the MPI one, under mpiexec with one rank per GPU
// (tests/gpu/run.sh starts as many ranks as there are GPUs): the same
// all-reduce on a CUDA tensor through NCCL and on its CPU copy through MPI,
// and the gradient reducer's buckets through both. Built only with NCCL
// (FID_HAVE_NCCL); on a machine without a GPU per rank every test fails
// saying so.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <memory>

#include "dist/grad_reducer.h"
#include "dist/mpi_communicator.h"
#include "dist/world.h"
#include "dist/nccl_communicator.h"
#include "gpu_required.h"

namespace fid::dist {
namespace {

std::unique_ptr<Communicator> g_mpi, g_nccl;
std::string g_unavailable;  // why NCCL cannot run here; empty when it can

class Worlds : public ::testing::Environment {
 public:
  void SetUp() override {
    g_mpi = make_world({});
    g_unavailable = testing::no_gpu_reason();
    // Every rank decides alike, or the NCCL set-up below would wait for peers.
    int enough =
        g_unavailable.empty() && static_cast<int>(torch::cuda::device_count()) >= g_mpi->local_size() ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &enough, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (g_unavailable.empty() && !enough) g_unavailable = "fewer GPUs than ranks on a node";
    if (g_unavailable.empty()) g_nccl = make_nccl_communicator(MPI_COMM_WORLD);
  }
  void TearDown() override {
    g_nccl.reset();
    g_mpi.reset();
    finalize_world();
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new Worlds);

#define REQUIRE_NCCL() \
  ASSERT_TRUE(g_unavailable.empty()) << "NCCL test without its GPUs: " << g_unavailable

c10::Device my_gpu() { return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(g_mpi->local_rank())); }

TEST(Nccl, AllReduceEqualsMpiForEveryDtypeAndOp) {
  REQUIRE_NCCL();
  at::manual_seed(100 + g_mpi->rank());
  for (auto op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin}) {
    for (auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kLong, at::kInt}) {
      // Small integers: every partial sum is exact, so any order of
      // summation gives the same bits and the backends must agree exactly.
      at::Tensor host = at::randint(-50, 50, {100003}, at::TensorOptions().dtype(dtype));
      at::Tensor gpu = host.to(my_gpu());
      g_mpi->all_reduce(host, op);
      g_nccl->all_reduce(gpu, op);
      EXPECT_TRUE(at::equal(host, gpu.cpu())) << c10::toString(dtype) << " op " << static_cast<int>(op);
    }
  }
}

TEST(Nccl, GradientBucketsReduceAsThroughMpi) {
  REQUIRE_NCCL();
  at::manual_seed(7);  // the same shapes on every rank; gradients differ by rank below
  std::vector<at::Tensor> cpu_params, gpu_params;
  for (int64_t n : {1000, 3, 70000, 250000}) {
    at::Tensor p = at::randn({n}).requires_grad_(true);
    p.mutable_grad() = at::randn({n}) * (g_mpi->rank() + 1);
    at::Tensor q = p.detach().to(my_gpu()).requires_grad_(true);
    q.mutable_grad() = p.grad().to(my_gpu());
    cpu_params.push_back(p);
    gpu_params.push_back(q);
  }
  GradReducer(*g_mpi, cpu_params, /*bucket_bytes=*/1 << 18).average();
  GradReducer(*g_nccl, gpu_params, /*bucket_bytes=*/1 << 18).average();
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    // Random floats: NCCL's ring and MPI's reduction may add in other orders.
    EXPECT_TRUE(at::allclose(cpu_params[i].grad(), gpu_params[i].grad().cpu(), 1e-6, 1e-6)) << i;
  }
}

TEST(Nccl, BroadcastCopiesRootsTensor) {
  REQUIRE_NCCL();
  at::Tensor t = at::full({4099}, static_cast<float>(g_mpi->rank() + 1), at::TensorOptions().device(my_gpu()));
  g_nccl->broadcast(t, 0);
  EXPECT_TRUE(at::equal(t.cpu(), at::ones({4099})));
}

}  // namespace
}  // namespace fid::dist
