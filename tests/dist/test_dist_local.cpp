// One process: the local backend, typed collectives and gradient reducer on a
// world of one, bucket planning, thread counts and launcher variables.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/error.h"
#include "dist/collectives.h"
#include "dist/grad_reducer.h"
#include "dist/world.h"

namespace fid::dist {
namespace {

TEST(LocalCommunicator, IsAWorldOfOne) {
  auto comm = make_local_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->local_rank(), 0);
  EXPECT_EQ(comm->local_size(), 1);
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_TRUE(comm->is_root());
  at::Tensor t = at::arange(6, at::kFloat);
  comm->all_reduce(t, ReduceOp::kSum);
  EXPECT_TRUE(t.equal(at::arange(6, at::kFloat)));
  comm->broadcast(t, 0);
  EXPECT_TRUE(t.equal(at::arange(6, at::kFloat)));
  EXPECT_EQ(comm->all_gather_bytes("abc"), std::vector<std::string>{"abc"});
  EXPECT_EQ(comm->gather_bytes("", 0), std::vector<std::string>{""});
  EXPECT_EQ(broadcast_string(*comm, "xyz"), "xyz");
  EXPECT_EQ(all_reduce_sum(*comm, int64_t{7}), 7);
  EXPECT_DOUBLE_EQ(all_reduce_sum(*comm, 2.5), 2.5);
}

TEST(LocalCommunicator, RejectsRootsOutsideTheWorld) {
  auto comm = make_local_communicator();
  at::Tensor t = at::zeros({2});
  EXPECT_THROW(comm->broadcast(t, 1), Error);
  EXPECT_THROW(comm->gather_bytes("x", 1), Error);
  std::string s = "x";
  EXPECT_THROW(comm->broadcast_bytes(s, -1), Error);
}

TEST(Collectives, RowsAndVectorsOnAWorldOfOne) {
  auto comm = make_local_communicator();
  at::Tensor q = at::rand({3, 4});  // (queries, dim)
  std::vector<int64_t> counts;
  at::Tensor all = all_gather_rows(*comm, q, &counts);
  EXPECT_TRUE(all.equal(q));
  EXPECT_EQ(counts, std::vector<int64_t>{3});
  at::Tensor stacked = all_gather_tensor(*comm, q);
  EXPECT_EQ(stacked.sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_TRUE(stacked[0].equal(q));
  at::Tensor none = gather_rows(*comm, at::empty({0, 4}, at::kHalf), 0, &counts);
  EXPECT_EQ(none.sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(none.scalar_type(), at::kHalf);
  auto ids = all_gather_vectors<int64_t>(*comm, {5, -1, 9});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], (std::vector<int64_t>{5, -1, 9}));
  EXPECT_EQ(broadcast_vector<float>(*comm, {1.5f, 2.f}), (std::vector<float>{1.5f, 2.f}));
  EXPECT_THROW(all_gather_rows(*comm, at::scalar_tensor(3.0)), Error);  // no dim 0 to gather
}

TEST(Collectives, WeightedAverageOfOneRank) {
  auto comm = make_local_communicator();
  WeightedMean m = weighted_average(*comm, 2.5, 4.0);
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_DOUBLE_EQ(m.weight, 4.0);
  m = weighted_average(*comm, 7.0, 0.0);
  EXPECT_DOUBLE_EQ(m.mean, 0.0) << "no weight anywhere: defined as 0, not NaN";
  auto ms = weighted_averages(*comm, {1.0, 3.0}, {2.0, 5.0});
  EXPECT_DOUBLE_EQ(ms[1].mean, 3.0);
  EXPECT_DOUBLE_EQ(ms[1].weight, 5.0);
  EXPECT_THROW(weighted_averages(*comm, {1.0}, {}), Error);
}

TEST(PlanBuckets, GroupsByDtypeAndSize) {
  std::vector<at::Tensor> ps{at::zeros({10}), at::zeros({10}), at::zeros({10}, at::kDouble),
                             at::zeros({100}), at::zeros({5})};
  // 25 MB: one bucket per dtype.
  auto one = plan_buckets(ps, kDefaultBucketBytes);
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one[0], (std::vector<size_t>{0, 1, 3, 4}));
  EXPECT_EQ(one[1], (std::vector<size_t>{2}));
  // 80 bytes: two 40-byte floats share one; the 400-byte one is alone; the
  // 20-byte one does not fit after it.
  auto small = plan_buckets(ps, 80);
  ASSERT_EQ(small.size(), 4u);
  EXPECT_EQ(small[0], (std::vector<size_t>{0, 1}));
  EXPECT_EQ(small[1], (std::vector<size_t>{2}));
  EXPECT_EQ(small[2], (std::vector<size_t>{3}));
  EXPECT_EQ(small[3], (std::vector<size_t>{4}));
  // Smaller than every tensor: one bucket each.
  EXPECT_EQ(plan_buckets(ps, 4).size(), ps.size());
  EXPECT_THROW(plan_buckets(ps, 0), Error);
}

TEST(GradReducer, WorldOfOneKeepsOrDividesGradients) {
  auto comm = make_local_communicator();
  at::Tensor w = at::arange(4, at::kFloat).requires_grad_(true);
  at::Tensor unused = at::ones({3}).requires_grad_(true);
  (w * w).sum().backward();  // grad = 2w
  GradReducer reducer(*comm, {w, unused}, 8);
  EXPECT_EQ(reducer.num_buckets(), 2u);
  reducer.average();
  EXPECT_TRUE(w.grad().equal(at::arange(4, at::kFloat) * 2));
  EXPECT_FALSE(unused.grad().defined());
  reducer.reduce(4.0);
  EXPECT_TRUE(w.grad().allclose(at::arange(4, at::kFloat) * 0.5));
  EXPECT_THROW(reducer.reduce(0.0), Error);
  broadcast_parameters(*comm, {w, unused});  // identity, and no autograd complaint
  EXPECT_TRUE(w.equal(at::arange(4, at::kFloat)));
}

TEST(Threads, PerRankFromRanksOnTheNode) {
  EXPECT_EQ(threads_per_rank(1, 0, 2, 2), 2);
  EXPECT_EQ(threads_per_rank(2, 0, 2, 2), 1);
  EXPECT_EQ(threads_per_rank(3, 0, 2, 2), 1) << "never below one";
  EXPECT_EQ(threads_per_rank(2, 0, 16, 0), 8) << "affinity unknown";
  EXPECT_EQ(threads_per_rank(1, 0, 16, 4), 4) << "a rank bound to 4 cores uses 4";
  EXPECT_EQ(threads_per_rank(2, 3, 2, 2), 3) << "--threads wins";
  EXPECT_GE(threads_per_rank(1, 0), 1);
  configure_threads(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  configure_threads(2);
  EXPECT_EQ(at::get_num_threads(), 2);
  EXPECT_THROW(configure_threads(0), Error);
}

// Clears every launcher variable this process might have inherited.
void clear_launcher_env() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
                        "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_LOCALID",
                        "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE",
                        "SLURM_STEP_TASKS_PER_NODE", "SLURM_NODEID"}) {
    unsetenv(v);
  }
}

TEST(LocalPlacement, FromLauncherVariables) {
  clear_launcher_env();
  EXPECT_FALSE(local_placement_from_env().has_value());
  setenv("SLURM_LOCALID", "1", 1);
  setenv("SLURM_NODEID", "3", 1);
  setenv("SLURM_TASKS_PER_NODE", "4(x3),2", 1);
  auto p = local_placement_from_env();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->rank, 1);
  EXPECT_EQ(p->size, 2);
  setenv("SLURM_NTASKS_PER_NODE", "4", 1);
  EXPECT_EQ(local_placement_from_env()->size, 4);
  setenv("MPI_LOCALRANKID", "2", 1);
  setenv("MPI_LOCALNRANKS", "3", 1);
  EXPECT_EQ(local_placement_from_env()->rank, 2);
  // Open MPI's variables win over inherited SLURM batch-step ones.
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  p = local_placement_from_env();
  EXPECT_EQ(p->rank, 0);
  EXPECT_EQ(p->size, 2);
  EXPECT_EQ(p->source, "OMPI_COMM_WORLD_LOCAL_RANK/SIZE");
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "x", 1);  // not a number: ignored
  EXPECT_EQ(local_placement_from_env()->source, "MPI_LOCALRANKID/MPI_LOCALNRANKS");
  clear_launcher_env();
}

TEST(LocalPlacement, SlurmTasksPerNode) {
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 0), 2);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 2), 2);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 3), 1);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 4), 0);
  EXPECT_EQ(slurm_tasks_on_node("8", 0), 8);
  EXPECT_EQ(slurm_tasks_on_node("2(3)", 0), 0);
  EXPECT_EQ(slurm_tasks_on_node("abc", 0), 0);
  EXPECT_EQ(slurm_tasks_on_node("", 0), 0);
}

TEST(World, WithoutLauncherIsLocal) {
  if (launched_by_mpi()) FAIL() << "run this test without mpiexec";
  auto comm = make_world({});
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->size(), 1);
#ifndef FID_HAVE_NCCL
  WorldOptions nccl;
  nccl.nccl = true;
  EXPECT_THROW(make_world(nccl), Error);
#endif
}

}  // namespace
}  // namespace fid::dist
