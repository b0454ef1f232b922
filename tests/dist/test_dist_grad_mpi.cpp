// Gradient reducer and parameter broadcast on two ranks: the reduced gradient
// is the mean of the per-rank gradients whatever the bucket size (smaller
// than one parameter, a few parameters, all of them).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "dist/collectives.h"
#include "dist/grad_reducer.h"
#include "mpi_world.h"

namespace fid::dist {
namespace {

struct Model {
  std::vector<at::Tensor> params;
  // Parameter i's gradient on rank r is (r + 1) * pattern(i), except that
  // params[3] has a gradient on rank 1 only and params[4] on no rank.
  static at::Tensor pattern(const at::Tensor& p, size_t i) {
    return at::arange(p.numel(), p.options()).view(p.sizes()) + static_cast<double>(i);
  }
  explicit Model(int rank) {
    params = {at::zeros({10}), at::zeros({3, 4}), at::zeros({100}), at::zeros({5}),
              at::zeros({2}), at::zeros({6}, at::kDouble)};
    for (at::Tensor& p : params) p.requires_grad_(true);
    set_grads(rank);
  }
  void set_grads(int rank) {
    for (size_t i = 0; i < params.size(); ++i) {
      const bool none = i == 4 || (i == 3 && rank == 0);
      params[i].mutable_grad() = none ? at::Tensor() : pattern(params[i], i) * (rank + 1.0);
    }
  }
};

class GradReducerMpi : public ::testing::TestWithParam<int64_t> {};

TEST_P(GradReducerMpi, GivesTheMeanOfPerRankGradients) {
  Communicator& comm = testing::world();
  Model m(comm.rank());
  GradReducer reducer(comm, m.params, GetParam());
  if (GetParam() == 4) {
    EXPECT_EQ(reducer.num_buckets(), m.params.size());
  }
  if (GetParam() == kDefaultBucketBytes) {
    EXPECT_EQ(reducer.num_buckets(), 2u);  // float, double
  }
  // Twice: the flat buffers are reused from the first step.
  for (int step = 0; step < 2; ++step) {
    if (step == 1) m.set_grads(comm.rank());
    reducer.average();
    for (size_t i : {0, 1, 2, 5}) {
      // (1 * g + 2 * g) / 2
      EXPECT_TRUE(m.params[i].grad().allclose(Model::pattern(m.params[i], i) * 1.5))
          << "param " << i << " bucket " << GetParam();
    }
    // Only rank 1 had it: (0 + 2g) / 2 = g, and rank 0 gets it too.
    ASSERT_TRUE(m.params[3].grad().defined());
    EXPECT_TRUE(m.params[3].grad().allclose(Model::pattern(m.params[3], 3)));
    EXPECT_FALSE(m.params[4].grad().defined()) << "no rank had a gradient: none is made";
  }
}

TEST_P(GradReducerMpi, DividesByAGivenTotalWeight) {
  Communicator& comm = testing::world();
  Model m(comm.rank());
  GradReducer reducer(comm, m.params, GetParam());
  reducer.reduce(6.0);  // sum 3g over total weight 6
  EXPECT_TRUE(m.params[2].grad().allclose(Model::pattern(m.params[2], 2) * 0.5));
  EXPECT_TRUE(m.params[5].grad().allclose(Model::pattern(m.params[5], 5) * 0.5));
}

TEST_P(GradReducerMpi, BroadcastParametersCopiesRootValues) {
  Communicator& comm = testing::world();
  at::manual_seed(1234 + comm.rank());  // different values on each rank
  std::vector<at::Tensor> ps{at::randn({7, 3}).requires_grad_(true),
                             at::randn({50}, at::kDouble), at::randn({1}).requires_grad_(true),
                             at::randn({4, 4}).to(at::kBFloat16)};
  auto flat = [&] {
    std::vector<at::Tensor> parts;
    for (auto& p : ps) parts.push_back(p.detach().to(at::kDouble).reshape({-1}));
    return at::cat(parts);  // (total,)
  };
  at::Tensor before = all_gather_tensor(comm, flat());  // (2, total)
  ASSERT_FALSE(before[0].equal(before[1]));
  broadcast_parameters(comm, ps, 0, GetParam());
  at::Tensor after = all_gather_tensor(comm, flat());
  EXPECT_TRUE(after[0].equal(before[0])) << "root keeps its values";
  EXPECT_TRUE(after[1].equal(before[0])) << "rank 1 now holds rank 0's values";
  EXPECT_TRUE(ps[0].requires_grad());
  EXPECT_THROW(broadcast_parameters(comm, ps, 2), Error);
}

INSTANTIATE_TEST_SUITE_P(Buckets, GradReducerMpi,
                         ::testing::Values(int64_t{4}, int64_t{100}, kDefaultBucketBytes),
                         [](const auto& info) { return "Bytes" + std::to_string(info.param); });

}  // namespace
}  // namespace fid::dist
