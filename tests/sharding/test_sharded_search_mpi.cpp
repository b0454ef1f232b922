// Under mpiexec (2 and 3 ranks): distributed flat search over shards returns
// exactly the ids, and the scores within 1e-6, of one IndexFlatIP over all
// vectors; the shared quantizer is identical on every rank; BM25-style
// string queries go through the same core.
#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "dist/communicator.h"
#include "dist/world.h"
#include "index/synthetic_data.h"
#include "sharding/shard_plan.h"
#include "sharding/shared_index.h"
#include "sharding/topk_merge.h"

namespace fid::sharding {
namespace {

dist::Communicator* g_comm = nullptr;

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    comm_ = dist::make_world({});
    g_comm = comm_.get();
  }
  void TearDown() override {
    g_comm = nullptr;
    comm_.reset();
    dist::finalize_world();
  }

 private:
  std::unique_ptr<dist::Communicator> comm_;
};
const auto* const g_env = ::testing::AddGlobalTestEnvironment(new MpiEnvironment);

std::vector<float> random_vectors(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n * d));
  for (auto& x : v) x = g(rng);
  return v;
}

// Every rank builds the same data; each indexes only its shards.
void check_flat_equals_exact(int num_shards) {
  dist::Communicator& comm = *g_comm;
  const int rank = comm.rank(), world = comm.size();
  const int64_t n = 1009, d = 24;
  const int k = 17;
  auto base = random_vectors(n, d, 42);
  ShardPlan plan(n, num_shards);
  index::IndexParams params;
  params.dim = d;
  index::DenseIndex local(params);
  std::vector<RowRange> mine;
  for (int s : plan.shards_for_rank(rank, world)) {
    const RowRange& r = plan.shard_range(s);
    local.add(base.data() + r.begin * d, r.size(), 100);
    mine.push_back(r);
  }
  IdMap ids(mine);

  // Variable query counts per rank (rank r has 3 + 4r), none on rank 1.
  const int64_t nq_all_ranks = [&] {
    int64_t t = 0;
    for (int r = 0; r < world; ++r) t += r == 1 ? 0 : 3 + 4 * r;
    return t;
  }();
  auto all_queries = random_vectors(nq_all_ranks, d, 7);
  int64_t first = 0;
  for (int r = 0; r < rank; ++r) first += r == 1 ? 0 : 3 + 4 * r;
  const int64_t my_nq = rank == 1 ? 0 : 3 + 4 * rank;

  TopK got = search_sharded(comm, local, ids, all_queries.data() + first * d, my_nq, k);
  ASSERT_EQ(got.nq, my_nq);

  faiss::IndexFlatIP exact(d);
  exact.add(n, base.data());
  std::vector<float> es(static_cast<size_t>(my_nq * k));
  std::vector<faiss::Index::idx_t> ei(static_cast<size_t>(my_nq * k));
  if (my_nq > 0) exact.search(my_nq, all_queries.data() + first * d, k, es.data(), ei.data());
  for (int64_t i = 0; i < my_nq * k; ++i) {
    EXPECT_EQ(got.ids[i], ei[i]) << "rank " << rank << " cell " << i;
    EXPECT_NEAR(got.scores[i], es[i], 1e-6 * std::max(1.f, std::fabs(es[i])));
  }
}

TEST(ShardedSearch, FlatOverFiveShardsEqualsExact) { check_flat_equals_exact(5); }
TEST(ShardedSearch, FlatOverTwoShardsEqualsExact) { check_flat_equals_exact(2); }  // a rank may own none
TEST(ShardedSearch, FlatOverOneShardPerRankEqualsExact) { check_flat_equals_exact(g_comm->size()); }

TEST(ShardedSearch, SharedQuantizerIsIdenticalOnEveryRank) {
  dist::Communicator& comm = *g_comm;
  fid::testing::ClusteredData data(32, 20, 5);
  auto local = data.sample(2000, 100 + comm.rank());
  std::vector<float> sample = gather_training_sample(comm, local.data(), 2000, 32, 3000);
  if (comm.rank() == 0) {
    // About 3000 rows in total, each rank's share proportional to its rows.
    EXPECT_NEAR(static_cast<double>(sample.size()) / 32, 3000.0, comm.size());
  } else {
    EXPECT_TRUE(sample.empty());
  }
  index::IndexParams p;
  p.type = index::IndexType::kIVFPQ;
  p.dim = 32;
  p.pq_m = 8;
  p.nlist = 16;
  index::DenseIndex idx = train_shared_index(comm, p, sample);
  EXPECT_TRUE(idx.is_trained());
  std::string bytes = idx.serialize();
  auto all = comm.all_gather_bytes(bytes);
  for (const auto& b : all) EXPECT_EQ(b, all[0]);
}

TEST(ShardedSearch, StringQueriesThroughTheSameCore) {
  dist::Communicator& comm = *g_comm;
  const int rank = comm.rank();
  // Each rank "indexes" ids rank*100 .. rank*100+9 and scores a query by
  // its length times the id's last digit: the merge must pick the global best.
  std::vector<std::string> mine(rank + 1, std::string(rank + 1, 'q'));
  TopK got = distributed_search(comm, encode_strings(mine), static_cast<int64_t>(mine.size()), 3,
      [&](const std::string& bytes, int64_t nq, int k, float* s, int64_t* ids) {
        auto queries = decode_strings(bytes);
        ASSERT_EQ(static_cast<int64_t>(queries.size()), nq);
        for (int64_t q = 0; q < nq; ++q) {
          for (int j = 0; j < k; ++j) {
            ids[q * k + j] = rank * 100 + 9 - j;
            s[q * k + j] = static_cast<float>(queries[q].size() * (9 - j));
          }
        }
      });
  ASSERT_EQ(got.nq, rank + 1);
  const int top = comm.size() - 1;  // ties on score: smaller ids first
  for (int64_t q = 0; q < got.nq; ++q) {
    EXPECT_EQ(got.ids[q * 3 + 0], 9);
    EXPECT_FLOAT_EQ(got.scores[q * 3], static_cast<float>((rank + 1) * 9));
    EXPECT_EQ(got.ids[q * 3 + 1], 109);
    if (top >= 2) EXPECT_EQ(got.ids[q * 3 + 2], 209);
    else EXPECT_EQ(got.ids[q * 3 + 2], 8);
  }
}

}  // namespace
}  // namespace fid::sharding
