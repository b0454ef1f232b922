// ShardedDenseIndex, the one sharded search `fid retrieve` runs, under
// mpiexec with 1, 2 and 3 ranks, on seeded vectors written as HDF5 shards: flat search equals one
// IndexFlatIP over all vectors; a saved index loads with identical results,
// on any number of ranks; changed shards, dimension or passages are refused; PQ and
// IVF-PQ recall@10 against flat stays above stated floors; exact re-ranking;
// a subset manifest (filter-passages') maps results to the original rows.
#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "dist/communicator.h"
#include "index/synthetic_data.h"
#include "sharding/embedding_shard.h"
#include "retrieval/dense_retrieval.h"
#include "sharding/manifest.h"
#include "sharding/sharded_dense_index.h"
#include "support/mpi_world.h"
#include "support/test_util.h"

namespace fid::sharding {
namespace {

using retrieval::load_checked_embeddings;

// One thread per rank: FAISS's OpenMP threads spin while waiting, which on a
// loaded machine costs more than they compute on these sizes.
const auto* const g_env = ::testing::AddGlobalTestEnvironment(new fid::testing::MpiWorldEnvironment(1));
dist::Communicator* const& g_comm = fid::testing::MpiWorldEnvironment::world();

using SharedDir = fid::testing::SharedTempDir;

// Unit-norm seeded Gaussian vectors: inner products lie in [-1, 1], so an
// absolute 1e-6 is a meaningful bound on score differences.
std::vector<float> unit_vectors(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int64_t j = 0; j < d; ++j) norm += std::pow(v[i * d + j] = g(rng), 2);
    for (int64_t j = 0; j < d; ++j) v[i * d + j] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

struct ShardSpec {
  int shards = 4;
  sharding::EmbeddingDtype dtype = sharding::EmbeddingDtype::kFloat32;
  std::string model = "model-a";
  // Rows of the passages file each vector is (a subset when non-empty).
  std::vector<int64_t> subset;
  int64_t subset_of = 0;
};

// Rank 0 writes `vectors` (n, d) as shards under `dir` plus its manifest.
std::string write_shards(const std::string& dir, const std::string& passages,
                         const std::vector<float>& vectors, int64_t d, const ShardSpec& spec) {
  const std::string manifest = dir + "/manifest.json";
  if (g_comm->rank() == 0) {
    make_directories(dir);
    const int64_t n = static_cast<int64_t>(vectors.size()) / d;
    sharding::ShardPlan plan(n, spec.shards);
    std::vector<std::string> files;
    for (int s = 0; s < spec.shards; ++s) {
      sharding::ShardMeta meta;
      meta.dim = d;
      meta.dtype = spec.dtype;
      meta.model_fingerprint = spec.model;
      meta.passages_fingerprint = file_fingerprint(passages);
      meta.shard_index = s;
      meta.shard_count = spec.shards;
      meta.rows = plan.shard_range(s);
      files.push_back(sharding::shard_file_name(dir + "/passages", s));
      sharding::EmbeddingShardWriter w(files.back(), meta);
      std::vector<int64_t> ids;
      for (int64_t r = meta.rows.begin; r < meta.rows.end; ++r) {
        ids.push_back(spec.subset.empty() ? r : spec.subset[static_cast<size_t>(r)]);
      }
      w.append(ids.data(), vectors.data() + meta.rows.begin * d, meta.rows.size());
      w.finish();
    }
    sharding::Manifest m = sharding::manifest_from_files(files, dir);
    m.subset_of_rows = spec.subset_of;
    sharding::write_manifest(manifest, m);
  }
  g_comm->barrier();
  return manifest;
}

std::string write_passages(const SharedDir& dir, const std::string& name, int64_t n) {
  const std::string path = dir.file(name);
  if (g_comm->rank() == 0) {
    std::string tsv = "id\ttext\ttitle\n";
    for (int64_t i = 0; i < n; ++i) tsv += std::to_string(i + 1) + "\tpassage " + name + std::to_string(i) + "\tt\n";
    fid::testing::write_text(path, tsv);
  }
  g_comm->barrier();
  return path;
}

// This rank's questions (i % W == rank) of `all` (nq, d).
std::vector<float> my_queries(const std::vector<float>& all, int64_t d, std::vector<int64_t>* which) {
  std::vector<float> out;
  const int64_t nq = static_cast<int64_t>(all.size()) / d;
  for (int64_t i = g_comm->rank(); i < nq; i += g_comm->size()) {
    out.insert(out.end(), all.begin() + i * d, all.begin() + (i + 1) * d);
    which->push_back(i);
  }
  return out;
}

sharding::BuildOptions build_options(const std::string& dir = "") {
  sharding::BuildOptions b;
  b.add_batch = 333;  // several blocks per shard
  b.save_or_load_dir = dir;
  return b;
}

index::IndexParams params_of(index::IndexType type, int64_t d, int m = 0, int nlist = 0) {
  index::IndexParams p;
  p.type = type;
  p.dim = d;
  p.pq_m = m;
  p.nlist = nlist;
  p.nprobe = 8;
  return p;
}

// Exact top-k of the given queries over `base` with one IndexFlatIP.
void exact_search(const std::vector<float>& base, int64_t d, const float* q, int64_t nq, int k,
                  std::vector<float>& scores, std::vector<int64_t>& ids) {
  faiss::IndexFlatIP flat(d);
  flat.add(static_cast<int64_t>(base.size()) / d, base.data());
  scores.resize(static_cast<size_t>(nq * k));
  std::vector<int64_t> labels(static_cast<size_t>(nq * k));
  if (nq > 0) flat.search(nq, q, k, scores.data(), labels.data());
  ids.assign(labels.begin(), labels.end());
}

void check_flat_equals_exact(sharding::EmbeddingDtype dtype, int shards) {
  SharedDir dir;
  const int64_t n = 1500, d = 32;
  const int k = 20;
  const std::string passages = write_passages(dir, "p.tsv", n);
  auto base = unit_vectors(n, d, 11);
  ShardSpec spec;
  spec.shards = shards;
  spec.dtype = dtype;
  const std::string manifest = write_shards(dir.file("emb"), passages, base, d, spec);
  if (dtype == sharding::EmbeddingDtype::kFloat16) {
    // Compare with what the shards hold: the vectors rounded to float16.
    sharding::Manifest m = sharding::load_manifest(manifest);
    base.clear();
    for (const auto& s : m.shards) {
      auto v = sharding::EmbeddingShardReader(m.shard_path(s)).read_all_vectors();
      base.insert(base.end(), v.begin(), v.end());
    }
  }
  ShardedDenseIndex idx(*g_comm, load_checked_embeddings(manifest, passages, n),
                        params_of(index::IndexType::kFlat, d), build_options());
  auto questions = unit_vectors(41, d, 12);
  std::vector<int64_t> which;
  auto mine = my_queries(questions, d, &which);
  DenseSearchOptions o;
  o.k = k;
  o.batch = 4;  // several rounds; ranks run out of questions at different rounds
  sharding::TopK got = idx.search(*g_comm, mine.data(), static_cast<int64_t>(which.size()), o);
  std::vector<float> es;
  std::vector<int64_t> ei;
  exact_search(base, d, mine.data(), static_cast<int64_t>(which.size()), k, es, ei);
  ASSERT_EQ(got.ids.size(), ei.size());
  for (size_t i = 0; i < ei.size(); ++i) {
    EXPECT_EQ(got.ids[i], ei[i]) << "rank " << g_comm->rank() << " question " << which[i / k];
    EXPECT_NEAR(got.scores[i], es[i], 1e-6);
  }
}

TEST(ShardedDenseIndex, FlatOverShardsEqualsOneIndexFlatIP) {
  check_flat_equals_exact(sharding::EmbeddingDtype::kFloat32, 7);
}

TEST(ShardedDenseIndex, Float16ShardsEqualOneIndexFlatIPOverTheStoredVectors) {
  check_flat_equals_exact(sharding::EmbeddingDtype::kFloat16, 2);  // a rank may own none
}

sharding::TopK search_all(ShardedDenseIndex& idx, const std::vector<float>& questions, int64_t d,
                          int k, int rerank = 0) {
  std::vector<int64_t> which;
  auto mine = my_queries(questions, d, &which);
  DenseSearchOptions o;
  o.k = k;
  o.rerank = rerank;
  return idx.search(*g_comm, mine.data(), static_cast<int64_t>(which.size()), o);
}

TEST(ShardedDenseIndex, SavedIndexLoadsWithIdenticalResults) {
  SharedDir dir;
  const int64_t n = 3000, d = 32;
  const std::string passages = write_passages(dir, "p.tsv", n);
  fid::testing::ClusteredData data(d, 20, 3);
  const std::string manifest = write_shards(dir.file("emb"), passages, data.sample(n, 4), d, {});
  auto questions = data.sample(30, 5);
  for (auto type : {index::IndexType::kFlat, index::IndexType::kIVFPQ}) {
    SCOPED_TRACE(index::index_type_name(type));
    const auto params = params_of(type, d, type == index::IndexType::kFlat ? 0 : 8, 16);
    const std::string saved = dir.file("index-" + index::index_type_name(type));
    auto opts = build_options(saved);
    opts.seed = 1;
    opts.train_sample = 1000;  // a sample, so that the seed matters
    auto m = load_checked_embeddings(manifest, passages, n);
    ShardedDenseIndex built(*g_comm, m, params, opts);
    g_comm->barrier();  // every rank has saved its parts
    for (const auto& s : m.shards) EXPECT_TRUE(path_exists(index::index_file_for_shard(saved, s.index)));
    // Another sampling seed: a rebuild would train another quantizer, so
    // identical results show the saved one was loaded.
    opts.seed = 2;
    ShardedDenseIndex loaded(*g_comm, m, params, opts);
    sharding::TopK a = search_all(built, questions, d, 10), b = search_all(loaded, questions, d, 10);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.scores, b.scores);
    // Rank 0 alone, a world of one, loads the parts W ranks saved and finds
    // the same top-10 for its questions (i % W == 0) as the W ranks did.
    if (g_comm->rank() == 0) {
      auto solo = dist::make_local_communicator();
      ShardedDenseIndex alone(*solo, m, params, opts);
      DenseSearchOptions o;
      o.k = 10;
      const int64_t nq = static_cast<int64_t>(questions.size()) / d;
      sharding::TopK all = alone.search(*solo, questions.data(), nq, o);
      std::vector<int64_t> ids;
      std::vector<float> scores;
      for (int64_t i = 0; i < nq; i += g_comm->size()) {
        ids.insert(ids.end(), all.ids.begin() + i * 10, all.ids.begin() + (i + 1) * 10);
        scores.insert(scores.end(), all.scores.begin() + i * 10, all.scores.begin() + (i + 1) * 10);
      }
      EXPECT_EQ(ids, a.ids);
      EXPECT_EQ(scores, a.scores);
    }
    g_comm->barrier();
    if (type == index::IndexType::kIVFPQ) {
      opts.save_or_load_dir.clear();
      ShardedDenseIndex rebuilt(*g_comm, m, params, opts);
      EXPECT_NE(search_all(rebuilt, questions, d, 10).scores, a.scores);
    }
  }
}

TEST(ShardedDenseIndex, ChangedShardsDimensionOrPassagesAreRefused) {
  SharedDir dir;
  const int64_t n = 900, d = 16;
  const std::string passages = write_passages(dir, "p.tsv", n);
  auto base = unit_vectors(n, d, 7);
  const std::string saved = dir.file("index");
  const auto flat = params_of(index::IndexType::kFlat, d);
  const std::string good = write_shards(dir.file("emb"), passages, base, d, {});
  { ShardedDenseIndex first(*g_comm, load_checked_embeddings(good, passages, n), flat, build_options(saved)); }

  auto refused = [&](const std::string& manifest, const index::IndexParams& p) {
    return fid::testing::error_of([&] {
      ShardedDenseIndex idx(*g_comm, load_checked_embeddings(manifest, passages, n), p, build_options(saved));
    });
  };
  // Re-embedded shards (another model): same rows, other vectors.
  ShardSpec other_model;
  other_model.model = "model-b";
  std::string e = refused(write_shards(dir.file("emb-b"), passages, base, d, other_model), flat);
  EXPECT_NE(e.find("rebuild"), std::string::npos) << e;
  EXPECT_NE(e.find("model-b"), std::string::npos) << e;
  // The same rows cut into other shards.
  ShardSpec recut;
  recut.shards = 5;
  e = refused(write_shards(dir.file("emb-5"), passages, base, d, recut), flat);
  EXPECT_NE(e.find("rebuild"), std::string::npos) << e;
  // Another dimension: the saved index and the retriever no longer fit.
  auto wide = unit_vectors(n, 2 * d, 8);
  e = refused(write_shards(dir.file("emb-wide"), passages, wide, 2 * d, {}),
              params_of(index::IndexType::kFlat, 2 * d));
  EXPECT_NE(e.find("rebuild"), std::string::npos) << e;
  EXPECT_NE(e.find("dim"), std::string::npos) << e;
  e = refused(good, params_of(index::IndexType::kFlat, 2 * d));
  EXPECT_NE(e.find("dimension"), std::string::npos) << e;
  // Another passages file, or one of another length.
  const std::string other = write_passages(dir, "q.tsv", n);
  e = fid::testing::error_of([&] { load_checked_embeddings(good, other, n); });
  EXPECT_NE(e.find("another passages file"), std::string::npos) << e;
  e = fid::testing::error_of([&] { load_checked_embeddings(good, passages, n - 1); });
  EXPECT_NE(e.find("rows"), std::string::npos) << e;
  // Half of the parts gone (an interrupted save): a rebuild is asked for.
  if (g_comm->rank() == 0) {
    const auto m = load_checked_embeddings(good, passages, n);
    std::filesystem::remove(index::index_file_for_shard(saved, m.shards[0].index));
  }
  g_comm->barrier();
  e = fid::testing::error_of([&] {
    ShardedDenseIndex idx(*g_comm, load_checked_embeddings(good, passages, n), flat, build_options(saved));
  });
  EXPECT_NE(e.find("index parts of these embeddings; rebuild the index"), std::string::npos) << e;
}

TEST(ShardedDenseIndex, QuantizedRecallAtTenAboveFloorsAndRerankIsExact) {
  SharedDir dir;
  const int64_t n = 8000, d = 64;
  const int k = 10;
  const std::string passages = write_passages(dir, "p.tsv", n);
  fid::testing::ClusteredData data(d, 100, 9);
  auto base = data.sample(n, 10);
  const std::string manifest = write_shards(dir.file("emb"), passages, base, d, {});
  auto questions = data.sample(60, 11);
  auto m = load_checked_embeddings(manifest, passages, n);
  ShardedDenseIndex flat(*g_comm, m, params_of(index::IndexType::kFlat, d), build_options());
  sharding::TopK truth = search_all(flat, questions, d, k);
  struct Case {
    const char* name;
    index::IndexParams p;
    double floor;  // recall@10 floor (measured: see below)
  };
  // Measured recall@10 on 1-3 ranks: PQ16 0.55-0.59, IVF64,PQ16 (nprobe 8)
  // 0.68-0.74. The floors leave room for the training sample, which depends
  // on the world size.
  const Case cases[] = {{"PQ16", params_of(index::IndexType::kPQ, d, 16), 0.45},
                        {"IVF64,PQ16", params_of(index::IndexType::kIVFPQ, d, 16, 64), 0.6}};
  for (const auto& c : cases) {
    auto opts = build_options();
    opts.train_sample = 4000;
    ShardedDenseIndex idx(*g_comm, m, c.p, opts);
    sharding::TopK got = search_all(idx, questions, d, k);
    std::vector<double> r = {fid::testing::recall_at(truth.ids, k, got.ids, k, got.nq, k) * got.nq,
                             static_cast<double>(got.nq)};
    g_comm->all_reduce_doubles(r, dist::ReduceOp::kSum);
    const double recall = r[0] / r[1];
    if (g_comm->rank() == 0) std::printf("%s recall@10 %.3f\n", c.name, recall);
    EXPECT_GE(recall, c.floor) << c.name;
    if (std::string(c.name) == "PQ16") {
      // Re-ranking 100 candidates per rank with the float vectors: scores are
      // the exact inner products, and recall rises.
      sharding::TopK rr = search_all(idx, questions, d, k, 100);
      std::vector<int64_t> which;
      auto mine = my_queries(questions, d, &which);
      for (size_t i = 0; i < rr.ids.size(); ++i) {
        ASSERT_GE(rr.ids[i], 0);
        double dot = 0;
        for (int64_t t = 0; t < d; ++t) dot += mine[(i / k) * d + t] * base[rr.ids[i] * d + t];
        EXPECT_NEAR(rr.scores[i], dot, 1e-5);
      }
      std::vector<double> rr_r = {fid::testing::recall_at(truth.ids, k, rr.ids, k, rr.nq, k) * rr.nq,
                                  static_cast<double>(rr.nq)};
      g_comm->all_reduce_doubles(rr_r, dist::ReduceOp::kSum);
      if (g_comm->rank() == 0) std::printf("PQ16 + rerank 100 recall@10 %.3f\n", rr_r[0] / rr_r[1]);
      EXPECT_GE(rr_r[0] / rr_r[1], recall + 0.2);
    }
  }
}

TEST(ShardedDenseIndex, SubsetManifestReturnsOriginalPassageRows) {
  SharedDir dir;
  const int64_t n = 1200, d = 16;
  const int k = 8;
  const std::string passages = write_passages(dir, "p.tsv", n);
  auto all = unit_vectors(n, d, 21);
  // Keep every third row, as filter-passages would write it.
  ShardSpec spec;
  spec.shards = 3;
  spec.subset_of = n;
  std::vector<float> kept;
  for (int64_t r = 0; r < n; r += 3) {
    spec.subset.push_back(r);
    kept.insert(kept.end(), all.begin() + r * d, all.begin() + (r + 1) * d);
  }
  const std::string manifest = write_shards(dir.file("filtered"), passages, kept, d, spec);
  sharding::Manifest m = load_checked_embeddings(manifest, passages, n);
  EXPECT_TRUE(m.is_subset());
  EXPECT_EQ(m.total_rows, static_cast<int64_t>(spec.subset.size()));
  ShardedDenseIndex idx(*g_comm, m, params_of(index::IndexType::kFlat, d), build_options());
  auto questions = unit_vectors(13, d, 22);
  sharding::TopK got = search_all(idx, questions, d, k);
  std::vector<int64_t> which;
  auto mine = my_queries(questions, d, &which);
  std::vector<float> es;
  std::vector<int64_t> ei;
  exact_search(kept, d, mine.data(), static_cast<int64_t>(which.size()), k, es, ei);
  for (size_t i = 0; i < ei.size(); ++i) {
    EXPECT_EQ(got.ids[i], spec.subset[static_cast<size_t>(ei[i])]);
    EXPECT_NEAR(got.scores[i], es[i], 1e-6);
  }
  // Their shards as a glob do not say they are a subset: refused.
  std::string e = fid::testing::error_of([&] {
    ShardedDenseIndex g(*g_comm, load_checked_embeddings(dir.file("filtered/passages_*.h5"), passages, n),
                        params_of(index::IndexType::kFlat, d), build_options());
  });
  EXPECT_NE(e.find("manifest"), std::string::npos) << e;
}

}  // namespace
}  // namespace fid::sharding
