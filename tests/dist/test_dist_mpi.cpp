// The MPI backend under mpiexec -n 2: every collective with the default chunk
// and with a 7-element chunk (so that small buffers take the chunk loop),
// typed gathers, the gradient reducer and the parameter broadcast.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <memory>

#include "common/error.h"
#include "dist/collectives.h"
#include "dist/grad_reducer.h"
#include "dist/mpi_communicator.h"
#include "dist/world.h"
#include "mpi_world.h"

namespace fid::dist {
namespace {

std::unique_ptr<Communicator> g_world;

// MPI is initialised once for the whole suite and finalised after it.
class MpiWorld : public ::testing::Environment {
 public:
  void SetUp() override { g_world = make_world({}); }
  void TearDown() override {
    g_world.reset();
    finalize_world();
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new MpiWorld);
}  // namespace

Communicator& testing::world() {
  FID_CHECK(g_world != nullptr, "the MPI test environment has not started");
  return *g_world;
}

namespace {

// The world communicator and one over the same ranks with 7-element chunks.
class Mpi : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    ASSERT_EQ(g_world->size(), 2) << "run under mpiexec -n 2";
    comm_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, GetParam());
  }
  Communicator& comm() { return *comm_; }
  int rank() { return comm_->rank(); }
  std::unique_ptr<MpiCommunicator> comm_;
};

TEST(MpiWorldTest, LaunchedAndPlaced) {
  EXPECT_TRUE(launched_by_mpi());
  Communicator& w = *g_world;
  EXPECT_EQ(w.backend(), "mpi");
  EXPECT_EQ(w.size(), 2);
  EXPECT_EQ(w.local_size(), 2);
  EXPECT_EQ(w.local_rank(), w.rank());
  EXPECT_EQ(std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")), w.rank());
  auto env = local_placement_from_env();
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->rank, w.local_rank());
  EXPECT_EQ(env->size, w.local_size());
  auto ranks = all_gather_vectors<int>(w, {w.rank()});
  EXPECT_EQ(ranks, (std::vector<std::vector<int>>{{0}, {1}}));
  // Errors come back as codes (then fid::Error), not as MPI's own abort.
  MPI_Errhandler handler;
  ASSERT_EQ(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &handler), MPI_SUCCESS);
  EXPECT_TRUE(handler == MPI_ERRORS_RETURN);
  MPI_Errhandler_free(&handler);
}

TEST(MpiWorldTest, MpiErrorsBecomeFidErrors) {
  try {
    check_mpi(MPI_ERR_TRUNCATE, "Recv");
    FAIL() << "check_mpi did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Recv failed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncat"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_mpi(MPI_SUCCESS, "Barrier"));
  // Both ranks reject the same bad root before any message moves.
  at::Tensor t = at::zeros({3});
  EXPECT_THROW(g_world->broadcast(t, 2), Error);
  EXPECT_THROW(g_world->gather_bytes("x", -1), Error);
  EXPECT_THROW(MpiCommunicator(MPI_COMM_WORLD, 0), Error);
  g_world->barrier();
}

TEST_P(Mpi, AllReduceEveryDtype) {
  for (int64_t n : {0, 1, 7, 50}) {
    for (at::ScalarType dt : {at::kFloat, at::kDouble, at::kLong, at::kInt, at::kHalf,
                              at::kBFloat16, at::kByte}) {
      // Rank r holds (r + 1) * (i + 1): sum 3(i+1), max 2(i+1), min (i+1).
      at::Tensor base = at::arange(1, n + 1, at::kDouble);  // (n,)
      at::Tensor sum = (base * (rank() + 1)).to(dt);
      at::Tensor mx = sum.clone(), mn = sum.clone();
      comm().all_reduce(sum, ReduceOp::kSum);
      comm().all_reduce(mx, ReduceOp::kMax);
      comm().all_reduce(mn, ReduceOp::kMin);
      EXPECT_EQ(sum.scalar_type(), dt);
      EXPECT_TRUE(sum.to(at::kDouble).equal(base * 3)) << c10::toString(dt) << " n=" << n;
      EXPECT_TRUE(mx.to(at::kDouble).equal(base * 2)) << c10::toString(dt) << " n=" << n;
      EXPECT_TRUE(mn.to(at::kDouble).equal(base)) << c10::toString(dt) << " n=" << n;
    }
  }
  // Bools: "sum" and max are any, min is all.
  at::Tensor b = at::tensor(std::vector<int64_t>{0, 1, rank(), 1}).to(at::kBool);
  at::Tensor any = b.clone(), all = b.clone();
  comm().all_reduce(any, ReduceOp::kSum);
  comm().all_reduce(all, ReduceOp::kMin);
  EXPECT_TRUE(any.equal(at::tensor(std::vector<int64_t>{0, 1, 1, 1}).to(at::kBool)));
  EXPECT_TRUE(all.equal(at::tensor(std::vector<int64_t>{0, 1, 0, 1}).to(at::kBool)));
  std::vector<double> d(20, rank() + 0.5);
  comm().all_reduce_doubles(d, ReduceOp::kSum);
  EXPECT_EQ(d, std::vector<double>(20, 2.0));
  std::vector<int64_t> i(9, (int64_t{1} << 40) * (rank() + 1));
  comm().all_reduce_int64(i, ReduceOp::kMax);
  EXPECT_EQ(i, std::vector<int64_t>(9, int64_t{1} << 41));
}

TEST_P(Mpi, BroadcastFromEitherRoot) {
  for (int root : {0, 1}) {
    at::Tensor t = rank() == root ? at::arange(23, at::kFloat).view({23, 1}) : at::zeros({23, 1});
    comm().broadcast(t, root);
    EXPECT_TRUE(t.equal(at::arange(23, at::kFloat).view({23, 1})));
    std::string s = rank() == root ? std::string(1000, 'q') + "end" : "stale";
    comm().broadcast_bytes(s, root);
    EXPECT_EQ(s, std::string(1000, 'q') + "end");
  }
  EXPECT_EQ(broadcast_vector<int64_t>(comm(), rank() == 0 ? std::vector<int64_t>{4, 5}
                                                          : std::vector<int64_t>{}),
            (std::vector<int64_t>{4, 5}));
}

TEST_P(Mpi, GatherBytesOfDifferentSizes) {
  // Rank 0 sends nothing, rank 1 a kilobyte; then the other way round.
  for (int empty_rank : {0, 1}) {
    std::string mine = rank() == empty_rank ? "" : std::string(1000, static_cast<char>('a' + rank()));
    std::vector<std::string> expect(2);
    expect[1 - empty_rank] = std::string(1000, static_cast<char>('a' + (1 - empty_rank)));
    EXPECT_EQ(comm().all_gather_bytes(mine), expect);
    for (int root : {0, 1}) {
      auto got = comm().gather_bytes(mine, root);
      if (rank() == root) {
        EXPECT_EQ(got, expect);
      } else {
        EXPECT_TRUE(got.empty());
      }
    }
  }
  EXPECT_EQ(comm().all_gather_bytes(""), (std::vector<std::string>{"", ""}));
}

TEST_P(Mpi, TypedGathers) {
  // Rank 0: 3 queries, rank 1: none, as when a rank has no questions left.
  const int64_t n = rank() == 0 ? 3 : 0;
  at::Tensor q = at::arange(n * 4, at::kFloat).view({n, 4}) + 100 * rank();  // (n, 4)
  std::vector<int64_t> counts;
  at::Tensor all = all_gather_rows(comm(), q, &counts);
  EXPECT_EQ(counts, (std::vector<int64_t>{3, 0}));
  EXPECT_TRUE(all.equal(at::arange(12, at::kFloat).view({3, 4})));
  // Same shape everywhere: stacked (W, ...).
  at::Tensor s = all_gather_tensor(comm(), at::full({2, 2}, rank(), at::kLong));
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_TRUE(s[1].equal(at::ones({2, 2}, at::kLong)));
  at::Tensor g = gather_rows(comm(), at::full({rank() + 1, 3}, rank() + 1.0), 1, &counts);
  if (rank() == 1) {
    EXPECT_EQ(counts, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(g.sizes(), (std::vector<int64_t>{3, 3}));
    EXPECT_FLOAT_EQ(g[2][1].item<float>(), 2.0f);
  } else {
    EXPECT_FALSE(g.defined());
  }
  // (score, id) records, as retrieval gathers them.
  struct Hit { float score; int64_t id; };
  std::vector<Hit> hits;
  for (int k = 0; k <= rank(); ++k) hits.push_back({0.5f * k, 10 * rank() + k});
  auto per_rank = gather_vectors(comm(), hits, 0);
  if (rank() == 0) {
    ASSERT_EQ(per_rank.size(), 2u);
    ASSERT_EQ(per_rank[1].size(), 2u);
    EXPECT_EQ(per_rank[1][1].id, 11);
    EXPECT_FLOAT_EQ(per_rank[1][1].score, 0.5f);
  }
  // Mismatched rows are refused on both ranks alike.
  EXPECT_THROW(all_gather_rows(comm(), at::zeros({2, 3 + rank()})), Error);
  EXPECT_THROW(all_gather_rows(comm(), rank() == 0 ? at::zeros({2}) : at::zeros({2}, at::kInt)),
               Error);
  WeightedMean m = weighted_average(comm(), rank() == 0 ? 1.0 : 4.0, rank() == 0 ? 1.0 : 3.0);
  EXPECT_DOUBLE_EQ(m.mean, 3.25);
  EXPECT_DOUBLE_EQ(m.weight, 4.0);
}

INSTANTIATE_TEST_SUITE_P(Chunks, Mpi, ::testing::Values(MpiCommunicator::kDefaultChunk, 7),
                         [](const auto& info) {
                           return info.param == 7 ? std::string("Chunk7") : "DefaultChunk";
                         });

}  // namespace
}  // namespace fid::dist
