// Under mpiexec (2 and 3 ranks): flat search through ShardedDenseIndex over
// HDF5 shards returns exactly the ids, and the scores within 1e-6, of one
// IndexFlatIP over all vectors; the shared quantizer is identical on every rank; BM25-style
// string queries go through the same core.
#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "dist/communicator.h"
#include "index/synthetic_data.h"
#include "common/error.h"
#include "common/files.h"
#include "sharding/embedding_shard.h"
#include "sharding/local_index.h"
#include "sharding/manifest.h"
#include "sharding/shard_plan.h"
#include "support/mpi_world.h"
#include "support/test_util.h"
#include "sharding/shared_index.h"
#include "sharding/sharded_dense_index.h"
#include "sharding/topk_merge.h"

namespace fid::sharding {
namespace {

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new fid::testing::MpiWorldEnvironment);
dist::Communicator* const& g_comm = fid::testing::MpiWorldEnvironment::world();

std::vector<float> random_vectors(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n * d));
  for (auto& x : v) x = g(rng);
  return v;
}

using SharedDir = fid::testing::SharedTempDir;

// Rank 0 writes `base` (n, d) as `num_shards` float32 shards of the plan,
// ids = rows, and their manifest; every rank returns it loaded.
Manifest write_plan_shards(const std::string& dir, const std::vector<float>& base, int64_t d,
                           int num_shards) {
  const int64_t n = static_cast<int64_t>(base.size()) / d;
  if (g_comm->rank() == 0) {
    make_directories(dir);
    ShardPlan plan(n, num_shards);
    std::vector<std::string> files;
    for (int s = 0; s < num_shards; ++s) {
      ShardMeta meta;
      meta.dim = d;
      meta.dtype = EmbeddingDtype::kFloat32;
      meta.model_fingerprint = "m";
      meta.passages_fingerprint = "p";
      meta.shard_index = s;
      meta.shard_count = num_shards;
      meta.rows = plan.shard_range(s);
      files.push_back(shard_file_name(dir + "/passages", s));
      EmbeddingShardWriter w(files.back(), meta);
      std::vector<int64_t> ids;
      for (int64_t r = meta.rows.begin; r < meta.rows.end; ++r) ids.push_back(r);
      w.append(ids.data(), base.data() + meta.rows.begin * d, meta.rows.size());
      w.finish();
    }
    write_manifest(dir + "/manifest.json", manifest_from_files(files, dir));
  }
  g_comm->barrier();
  return load_manifest(dir + "/manifest.json");
}

// Every rank builds the same data; each indexes only its shards, through the
// index `fid retrieve` searches.
void check_flat_equals_exact(int num_shards) {
  dist::Communicator& comm = *g_comm;
  const int rank = comm.rank(), world = comm.size();
  const int64_t n = 1009, d = 24;
  const int k = 17;
  auto base = random_vectors(n, d, 42);
  SharedDir dir;
  index::IndexParams params;
  params.dim = d;
  BuildOptions build;
  build.add_batch = 100;
  ShardedDenseIndex index(comm, write_plan_shards(dir.path() + "/emb", base, d, num_shards), params,
                          build);

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

  DenseSearchOptions once;
  once.k = k;
  TopK got = index.search(comm, all_queries.data() + first * d, my_nq, once);
  ASSERT_EQ(got.nq, my_nq);
  // In rounds of 2 queries per rank (ranks run out of queries at different rounds).
  DenseSearchOptions in_rounds = once;
  in_rounds.batch = 2;
  TopK rounds = index.search(comm, all_queries.data() + first * d, my_nq, in_rounds);
  EXPECT_EQ(rounds.ids, got.ids);
  EXPECT_EQ(rounds.scores, got.scores);

  faiss::IndexFlatIP exact(d);
  exact.add(n, base.data());
  std::vector<float> es(static_cast<size_t>(my_nq * k));
  std::vector<int64_t> ei(static_cast<size_t>(my_nq * k));
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
    if (top >= 2) {
      EXPECT_EQ(got.ids[q * 3 + 2], 209);
    } else {
      EXPECT_EQ(got.ids[q * 3 + 2], 8);
    }
  }
}

// The whole path: every rank writes its HDF5 shard, rank 0 writes the
// manifest, each rank builds its index from the shards the plan gives it
// (saved, then loaded again), and sharded search equals exact search.
TEST(ShardedSearch, FromHdf5ShardsThroughSavedIndex) {
  dist::Communicator& comm = *g_comm;
  const int rank = comm.rank(), world = comm.size();
  SharedDir dir;
  const std::string& root = dir.path();
  const int64_t n = 777, d = 16;
  auto base = random_vectors(n, d, 21);
  WorkAssignment work = assign_work(n, 0, 1, rank, world);
  ShardMeta meta;
  meta.dim = d;
  meta.dtype = EmbeddingDtype::kFloat32;
  meta.model_fingerprint = "m";
  meta.passages_fingerprint = "p";
  meta.shard_index = work.shard_index;
  meta.shard_count = work.shard_count;
  meta.rows = work.rows;
  const std::string file = shard_file_name(root + "/emb/passages", work.shard_index);
  if (rank == 0) make_directories(root + "/emb");
  comm.barrier();
  {
    EmbeddingShardWriter w(file, meta);
    std::vector<int64_t> ids;
    for (int64_t r = work.rows.begin; r < work.rows.end; ++r) ids.push_back(r);
    w.append(ids.data(), base.data() + work.rows.begin * d, work.rows.size());
    w.finish();
  }
  write_manifest_collective(comm, root + "/emb/manifest.json", {file}, n);
  Manifest m = load_manifest(root + "/emb/manifest.json");
  ASSERT_EQ(static_cast<int>(m.shards.size()), world);
  EXPECT_TRUE(m.plan().covers_all_rows());

  index::IndexParams params;
  params.dim = d;
  BuildOptions opts;
  opts.add_batch = 50;
  opts.save_or_load_dir = root + "/index";
  auto queries = random_vectors(4, d, 22 + rank);
  faiss::IndexFlatIP exact(d);
  exact.add(n, base.data());
  std::vector<float> es(4 * 10);
  std::vector<int64_t> ei(4 * 10);
  exact.search(4, queries.data(), 10, es.data(), ei.data());
  DenseSearchOptions top10;
  top10.k = 10;
  for (int pass = 0; pass < 2; ++pass) {  // pass 0 builds and saves, pass 1 loads
    ShardedDenseIndex index(comm, m, params, opts);
    EXPECT_EQ(index.local().size(), work.rows.size());
    TopK got = index.search(comm, queries.data(), 4, top10);
    for (int i = 0; i < 40; ++i) {
      EXPECT_EQ(got.ids[i], ei[i]) << "pass " << pass;
      EXPECT_NEAR(got.scores[i], es[i], 1e-6);
    }
  }
  // Other parameters against the saved index: refused on every rank.
  index::IndexParams pq = params;
  pq.type = index::IndexType::kPQ;
  pq.pq_m = 4;
  EXPECT_THROW(build_local_index(comm, m, pq, opts), fid::Error);
  // A quantized index built from the shards is identical on every run.
  opts.save_or_load_dir.clear();
  opts.train_sample = 600;
  LocalIndex a = build_local_index(comm, m, pq, opts);
  LocalIndex b = build_local_index(comm, m, pq, opts);
  ASSERT_EQ(a.parts.size(), b.parts.size());
  for (size_t i = 0; i < a.parts.size(); ++i) EXPECT_EQ(a.parts[i].serialize(), b.parts[i].serialize());
}

}  // namespace
}  // namespace fid::sharding
