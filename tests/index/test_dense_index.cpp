// The FAISS wrapper: flat equals IndexFlatIP, sharded (world of one) equals
// unsharded, save/load gives identical results and refuses a changed world,
// dimension, shard or parameter; PQ / IVF-PQ / OPQ recall against flat.
#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "common/error.h"
#include "common/files.h"
#include "dist/world.h"
#include "index/dense_index.h"
#include "index/index_file.h"
#include "index/synthetic_data.h"
#include "sharding/shared_index.h"
#include "support/test_util.h"

namespace fid::index {
namespace {
using fid::testing::ClusteredData;
using fid::testing::recall_at;

// One OpenMP thread for the whole suite: on a shared, oversubscribed CI
// machine FAISS's k-means spin-waits cost far more than a second thread gains.
class OneThread : public ::testing::Environment {
 public:
  void SetUp() override { omp_set_num_threads(1); }
};
const auto* const g_one_thread = ::testing::AddGlobalTestEnvironment(new OneThread);

using fid::testing::error_of;

struct Results {
  std::vector<float> scores;
  std::vector<int64_t> ids;
};

Results search(const DenseIndex& idx, const std::vector<float>& q, int64_t d, int k) {
  const int64_t nq = static_cast<int64_t>(q.size()) / d;
  Results r{std::vector<float>(static_cast<size_t>(nq * k)), std::vector<int64_t>(static_cast<size_t>(nq * k))};
  idx.search(q.data(), nq, k, r.scores.data(), r.ids.data());
  return r;
}

TEST(DenseIndex, FlatEqualsFaissFlatIP) {
  const int64_t d = 48, n = 3000;
  ClusteredData data(d, 30, 1);
  auto base = data.sample(n, 2);
  auto queries = data.sample(50, 3);
  IndexParams p;
  p.dim = d;
  DenseIndex idx(p);
  EXPECT_TRUE(idx.is_trained());
  idx.add(base.data(), n, 700);  // batches do not change the result
  EXPECT_EQ(idx.size(), n);
  faiss::IndexFlatIP ref(d);
  ref.add(n, base.data());
  std::vector<float> rs(50 * 10);
  std::vector<int64_t> ri(50 * 10);
  ref.search(50, queries.data(), 10, rs.data(), ri.data());
  Results got = search(idx, queries, d, 10);
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(got.ids[i], ri[i]);
    EXPECT_EQ(got.scores[i], rs[i]);
  }
  IndexSize size = idx.size_report();
  EXPECT_EQ(size.code_bytes, d * 4);
  EXPECT_GE(size.bytes_per_vector, d * 4.0);
  EXPECT_LT(size.bytes_per_vector, d * 4.0 + 1.0);
}

TEST(DenseIndex, IdMapTurnsLabelsOfShardsAddedOutOfOrderIntoRows) {
  // Several shards in one index: labels map to row offsets through the IdMap.
  const int64_t d = 16, n = 1234;
  ClusteredData data(d, 10, 4);
  auto base = data.sample(n, 5);
  auto queries = data.sample(20, 6);
  sharding::ShardPlan plan(n, 4);
  IndexParams p;
  p.dim = d;
  DenseIndex idx(p);
  // Shards 2 and 0 added in that order: labels must still map to rows.
  std::vector<sharding::RowRange> order = {plan.shard_range(2), plan.shard_range(0),
                                           plan.shard_range(3), plan.shard_range(1)};
  for (auto r : order) idx.add(base.data() + r.begin * d, r.size());
  sharding::IdMap ids(order);
  ASSERT_EQ(ids.size(), n);
  std::vector<float> scores(20 * 25);
  std::vector<int64_t> labels(20 * 25);
  idx.search(queries.data(), 20, 25, scores.data(), labels.data());
  faiss::IndexFlatIP ref(d);
  ref.add(n, base.data());
  std::vector<float> rs(20 * 25);
  std::vector<int64_t> ri(20 * 25);
  ref.search(20, queries.data(), 25, rs.data(), ri.data());
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(ids.global_id(labels[i]), ri[i]);
    EXPECT_NEAR(scores[i], rs[i], 1e-6);
  }
  EXPECT_EQ(ids.global_id(-1), -1);
}

TEST(DenseIndex, RecallOfQuantizedIndexes) {
  const int64_t d = 64, n = 10000;
  const int64_t nq = 100;
  ClusteredData data(d, 100, 7);
  auto base = data.sample(n, 8);
  auto queries = data.sample(nq, 9);
  IndexParams flat;
  flat.dim = d;
  DenseIndex exact(flat);
  exact.add(base.data(), n);
  Results truth = search(exact, queries, d, 10);

  struct Case {
    IndexType type;
    int m, nlist, nprobe;
    bool opq;
    double floor;  // recall@10 floor, measured values are well above it
    int64_t train;  // training vectors (OPQ's 50 rounds of PQ training dominate the cost)
  };
  // Floors for d=64 clustered data, 10k vectors, 8-bit codes; measured
  // values (printed) sit about 0.08 above them.
  const Case cases[] = {
      {IndexType::kPQ, 16, 0, 1, false, 0.45, 5000},      // measured 0.52
      {IndexType::kPQ, 32, 0, 1, false, 0.70, 5000},      // measured 0.78
      {IndexType::kPQ, 16, 0, 1, true, 0.43, 3000},       // measured 0.52
      {IndexType::kIVFPQ, 16, 64, 16, false, 0.60, 5000}, // measured 0.68
  };
  for (const auto& c : cases) {
    IndexParams p;
    p.type = c.type;
    p.dim = d;
    p.pq_m = c.m;
    p.nlist = c.nlist;
    p.nprobe = c.nprobe;
    p.opq = c.opq;
    DenseIndex idx(p);
    EXPECT_FALSE(idx.is_trained());
    EXPECT_THROW(idx.add(base.data(), 1), fid::Error);
    idx.train(base.data(), c.train);
    idx.add(base.data(), n, 4096);
    Results got = search(idx, queries, d, 10);
    const double r10 = recall_at(truth.ids, 10, got.ids, 10, nq, 10);
    std::printf("%-18s recall@10 %.3f  bytes/vector %.1f\n", p.describe().c_str(), r10,
                idx.size_report().bytes_per_vector);
    EXPECT_GE(r10, c.floor) << p.describe();
    IndexSize size = idx.size_report();
    EXPECT_EQ(size.code_bytes, c.m);
    EXPECT_LT(size.bytes_per_vector, c.m + (c.type == IndexType::kIVFPQ ? 8 : 0) + 12.0);
    // Scores approximate the exact inner product of the returned vector.
    for (int64_t q = 0; q < 5; ++q) {
      const int64_t id = got.ids[q * 10];
      float dot = 0;
      for (int64_t j = 0; j < d; ++j) dot += queries[q * d + j] * base[id * d + j];
      EXPECT_NEAR(got.scores[q * 10], dot, 0.25f);
    }
  }
}

TEST(DenseIndex, SerializeRoundTripAndMismatch) {
  IndexParams p;
  p.type = IndexType::kIVFPQ;
  p.dim = 32;
  p.pq_m = 8;
  p.nlist = 8;
  DenseIndex idx(p);
  ClusteredData data(32, 10, 10);
  auto x = data.sample(2000, 11);
  idx.train(x.data(), 2000);
  DenseIndex copy = DenseIndex::deserialize(idx.serialize(), p);
  EXPECT_TRUE(copy.is_trained());
  idx.add(x.data(), 2000);
  copy.add(x.data(), 2000);
  auto q = data.sample(10, 12);
  Results a = search(idx, q, 32, 5), b = search(copy, q, 32, 5);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.scores, b.scores);
  IndexParams wrong = p;
  wrong.pq_m = 4;
  EXPECT_NE(error_of([&] { DenseIndex::deserialize(idx.serialize(), wrong); }).find("rebuild"),
            std::string::npos);
}

TEST(DenseIndex, SaveLoadIdenticalAndRefusesChanges) {
  fid::testing::TempDir dir;
  const int64_t d = 32;
  ClusteredData data(d, 10, 13);
  auto x = data.sample(3000, 14);
  auto q = data.sample(15, 15);
  for (IndexType type : {IndexType::kFlat, IndexType::kPQ, IndexType::kIVFPQ}) {
    IndexParams p;
    p.type = type;
    p.dim = d;
    p.pq_m = type == IndexType::kFlat ? 0 : 8;
    p.nlist = type == IndexType::kIVFPQ ? 16 : 0;
    p.nprobe = 4;
    DenseIndex idx(p);
    idx.train(x.data(), 3000);
    idx.add(x.data(), 3000);
    IndexManifest m;
    m.shards = {{3, 1000, 2500}, {4, 2500, 4000}};
    m.embeddings_id = "model-x";
    m.params = p;
    const std::string path = index_file_for_shard(dir.path(), 3) + index_type_name(type);
    save_index(path, idx, m);
    DenseIndex back = load_index(path, m);
    Results a = search(idx, q, d, 10), b = search(back, q, d, 10);
    EXPECT_EQ(a.ids, b.ids) << index_type_name(type);
    EXPECT_EQ(a.scores, b.scores) << index_type_name(type);

    IndexManifest other = m;
    other.embeddings_id = "model-y";
    std::string err = error_of([&] { load_index(path, other); });
    EXPECT_NE(err.find("embeddings"), std::string::npos) << err;
    EXPECT_NE(err.find("rebuild the index"), std::string::npos) << err;
    other = m;
    other.params.dim = 64;
    err = error_of([&] { load_index(path, other); });
    EXPECT_NE(err.find("dimension"), std::string::npos) << err;
    other = m;
    other.shards[1].row_end = 4001;
    err = error_of([&] { load_index(path, other); });
    EXPECT_NE(err.find("shards"), std::string::npos) << err;
    if (type != IndexType::kFlat) {
      other = m;
      other.params.pq_m = 16;
      EXPECT_NE(error_of([&] { load_index(path, other); }).find("PQ16"), std::string::npos);
    }
  }
}

TEST(DenseIndex, ParameterValidation) {
  IndexParams p;
  p.type = IndexType::kPQ;
  p.dim = 30;
  p.pq_m = 8;
  EXPECT_NE(error_of([&] { DenseIndex idx(p); }).find("divide"), std::string::npos);
  p.dim = 32;
  p.type = IndexType::kIVFPQ;
  p.nlist = 0;
  EXPECT_NE(error_of([&] { DenseIndex idx(p); }).find("--nlist"), std::string::npos);
  EXPECT_THROW(parse_index_type("hnsw"), fid::Error);
  p.nlist = 100;
  DenseIndex idx(p);
  std::vector<float> few(32 * 50, 0.1f);
  EXPECT_NE(error_of([&] { idx.train(few.data(), 50); }).find("--train_sample"), std::string::npos);
}

}  // namespace
}  // namespace fid::index
