// Retrieval benchmark on synthetic clustered vectors (d = 128 by default).
//   bench_retrieve [--n 1000000] [--nq 1000] [--dim 128]
//       queries/s and recall@1/10/100 against exact search for flat, PQ
//       16/32/64 bytes and IVF-PQ; bytes per vector of each index.
//   mpiexec -n W bench_retrieve --sharded [--n ...]
//       the distributed search (each rank a shard of the same data, queries
//       all-gathered, lists merged): run with -n 1 and -n 2 for the ratio.
// Rows are generated in seeded blocks so any rank can build any part alone.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "../index/synthetic_data.h"
#include "common/files.h"
#include "common/progress.h"
#include "common/system.h"
#include "dist/world.h"
#include "index/dense_index.h"
#include "sharding/embedding_shard.h"
#include "sharding/local_index.h"
#include "sharding/manifest.h"
#include "sharding/shard_plan.h"
#include "sharding/sharded_dense_index.h"

namespace {
using fid::index::DenseIndex;
using fid::index::IndexParams;
using fid::index::IndexType;
using Clock = std::chrono::steady_clock;
using fid::seconds_since;

constexpr int64_t kBlock = 4096;


// Rows [begin, end) of the synthetic collection, independent of who asks.
std::vector<float> rows(const fid::testing::ClusteredData& data, int64_t begin, int64_t end) {
  const int64_t d = data.dim;
  std::vector<float> out(static_cast<size_t>((end - begin) * d));
  for (int64_t b = begin / kBlock; b * kBlock < end; ++b) {
    auto block = data.sample(kBlock, 1000 + static_cast<uint64_t>(b));
    const int64_t lo = std::max(begin, b * kBlock), hi = std::min(end, (b + 1) * kBlock);
    std::memcpy(out.data() + (lo - begin) * d, block.data() + (lo - b * kBlock) * d,
                static_cast<size_t>((hi - lo) * d) * sizeof(float));
  }
  return out;
}

struct Run {
  double qps = 0;
  std::vector<int64_t> ids;
};

Run timed_search(const DenseIndex& idx, const std::vector<float>& q, int64_t nq, int k) {
  Run r;
  std::vector<float> s(static_cast<size_t>(nq * k));
  r.ids.resize(static_cast<size_t>(nq * k));
  auto t0 = Clock::now();
  idx.search(q.data(), nq, k, s.data(), r.ids.data());
  r.qps = nq / seconds_since(t0);
  return r;
}

int64_t arg(int argc, char** argv, const char* name, int64_t def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  }
  return def;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

void table(int64_t n, int64_t nq, int64_t d, int64_t train_n) {
  fid::testing::ClusteredData data(d, 1000, 7);
  auto t0 = Clock::now();
  auto base = rows(data, 0, n);
  auto queries = data.sample(nq, 99);
  std::printf("data: %lld x %lld clustered vectors, %lld queries (%.1f s to generate), "
              "training on %lld\n",
              static_cast<long long>(n), static_cast<long long>(d), static_cast<long long>(nq),
              seconds_since(t0), static_cast<long long>(std::min(n, train_n)));
  std::fflush(stdout);
  const int k = 100;
  IndexParams flat;
  flat.dim = d;
  DenseIndex exact(flat);
  exact.add(base.data(), n);
  Run truth = timed_search(exact, queries, nq, k);
  std::printf("%-22s %10s %9s %9s %9s %12s %9s %9s %9s\n", "index", "queries/s", "R@1", "R@10", "R@100",
              "bytes/vec", "train s", "add s", "+RSS MiB");
  std::printf("%-22s %10.1f %9.3f %9.3f %9.3f %12.1f %9s %9s %9s\n", "Flat (exact)", truth.qps, 1.0,
              1.0, 1.0, exact.size_report().bytes_per_vector, "-", "-", "-");
  std::fflush(stdout);

  struct Case {
    IndexType type;
    int m, nlist;
    std::vector<int> nprobes;  // IVF: one trained index searched at each (HNSW: efSearch)
    std::string factory;       // kFactory
  };
  const int nlist = 1024;
  const Case cases[] = {{IndexType::kPQ, 16, 0, {0}, ""},
                        {IndexType::kPQ, 32, 0, {0}, ""},
                        {IndexType::kPQ, 64, 0, {0}, ""},
                        {IndexType::kIVFPQ, 32, nlist, {16, 64}, ""},
                        {IndexType::kFactory, 0, 0, {16}, "IVF1024,Flat"},
                        {IndexType::kFactory, 0, 0, {0}, "SQ8"},
                        {IndexType::kFactory, 0, 0, {16}, "IVF1024,SQ8"},
                        {IndexType::kFactory, 0, 0, {64, 256}, "HNSW32"},
                        {IndexType::kFactory, 0, 0, {64, 256}, "HNSW32_SQ8"}};
  const int64_t pq_nq = std::min<int64_t>(nq, 200);  // PQ scans every code per query
  for (const auto& c : cases) {
    IndexParams p;
    p.type = c.type;
    p.dim = d;
    p.pq_m = c.m;
    p.nlist = c.nlist;
    p.factory = c.factory;
    const double rss0 = fid::current_rss_bytes();
    DenseIndex idx(p);
    auto t1 = Clock::now();
    idx.train(base.data(), std::min(n, train_n));
    const double train_s = seconds_since(t1);
    t1 = Clock::now();
    idx.add(base.data(), n);
    const double add_s = seconds_since(t1);
    const double rss_mib = (fid::current_rss_bytes() - rss0) / 1048576.0;  // what the index holds
    const bool exhaustive = c.type == IndexType::kPQ || c.factory == "SQ8";
    const int64_t m = exhaustive ? pq_nq : nq;
    for (int np : c.nprobes) {
      std::string name = idx.params().describe();
      if (np > 0 && idx.is_graph()) {
        idx.set_ef_search(np);
        name += ",ef" + std::to_string(np);
      } else if (np > 0) {
        idx.set_nprobe(np);
        name += ",np" + std::to_string(np);
      }
      Run r = timed_search(idx, queries, m, k);
      std::printf("%-22s %10.1f %9.3f %9.3f %9.3f %12.1f %9.1f %9.1f %9.0f\n", name.c_str(), r.qps,
                  fid::testing::recall_at(truth.ids, k, r.ids, k, m, 1),
                  fid::testing::recall_at(truth.ids, k, r.ids, k, m, 10),
                  fid::testing::recall_at(truth.ids, k, r.ids, k, m, 100),
                  idx.size_report().bytes_per_vector, train_s, add_s, rss_mib);
      std::fflush(stdout);
    }
  }
  std::printf("recall@k: fraction of the exact top-k found in the index's top-k; +RSS: resident "
              "memory the index added while built\n");
  std::printf("peak RSS: %.0f MiB\n", fid::peak_rss_bytes() / 1048576.0);
}

void sharded(int64_t n, int64_t nq, int64_t d) {
  auto comm = fid::dist::make_world({});
  const int rank = comm->rank(), world = comm->size();
  fid::testing::ClusteredData data(d, 1000, 7);
  fid::sharding::ShardPlan plan(n, world);
  const auto mine = plan.shard_range(rank);
  auto base = rows(data, mine.begin, mine.end);
  // Each rank writes its shard of the plan; the index `fid retrieve`
  // searches is built from them.
  std::string dir;
  if (rank == 0) {
    dir = (std::filesystem::temp_directory_path() /
           ("fid-bench-retrieve-" + std::to_string(::getpid()))).string();
    fid::make_directories(dir);
  }
  dir = fid::dist::broadcast_string(*comm, dir, 0);
  fid::sharding::ShardMeta meta;
  meta.dim = d;
  meta.dtype = fid::sharding::EmbeddingDtype::kFloat32;
  meta.model_fingerprint = "bench";
  meta.passages_fingerprint = "bench";
  meta.shard_index = rank;
  meta.shard_count = world;
  meta.rows = mine;
  const std::string file = fid::sharding::shard_file_name(dir + "/passages", rank);
  {
    fid::sharding::EmbeddingShardWriter w(file, meta);
    std::vector<int64_t> ids(static_cast<size_t>(mine.size()));
    for (int64_t r = 0; r < mine.size(); ++r) ids[static_cast<size_t>(r)] = mine.begin + r;
    w.append(ids.data(), base.data(), mine.size());
    w.finish();
  }
  fid::sharding::write_manifest_collective(*comm, dir + "/manifest.json", {file}, n);
  IndexParams flat;
  flat.dim = d;
  fid::sharding::ShardedDenseIndex idx(*comm, fid::sharding::load_manifest(dir + "/manifest.json"),
                                       flat, fid::sharding::BuildOptions{});
  // The queries are split over ranks as a question file would be.
  auto all_q = data.sample(nq, 99);
  const auto qr = fid::sharding::balanced_range(nq, world, rank);
  fid::sharding::DenseSearchOptions search;
  search.k = 100;
  comm->barrier();
  auto t0 = Clock::now();
  auto result = idx.search(*comm, all_q.data() + qr.begin * d, qr.size(), search);
  comm->barrier();
  const double secs = seconds_since(t0);
  // A checksum of each query's id set (weighted by the query's global index)
  // shows every world size returns the same lists; order inside a list is
  // left out because BLAS thread counts change float rounding, which swaps
  // neighbours whose scores differ by ~1e-7.
  int64_t check = 0;
  for (int64_t q = 0; q < result.nq; ++q) {
    for (int j = 0; j < result.k; ++j) check += (qr.begin + q + 1) * result.ids[q * result.k + j];
  }
  check = fid::dist::all_reduce_sum(*comm, check);
  if (rank == 0) {
    std::printf("sharded flat search: %d rank(s), %lld vectors, %lld queries, k=100: %.3f s, "
                "%.1f queries/s, id checksum %lld\n",
                world, static_cast<long long>(n), static_cast<long long>(nq), secs, nq / secs,
                static_cast<long long>(check));
  }
  comm->barrier();
  if (rank == 0) std::filesystem::remove_all(dir);
  comm.reset();
  fid::dist::finalize_world();
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t n = arg(argc, argv, "--n", 1000000);
  const int64_t nq = arg(argc, argv, "--nq", 1000);
  const int64_t d = arg(argc, argv, "--dim", 128);
  if (flag(argc, argv, "--sharded")) {
    sharded(n, nq, d);
  } else {
    table(n, nq, d, arg(argc, argv, "--train", 20000));
  }
  return 0;
}
