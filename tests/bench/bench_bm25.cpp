// BM25 index build and query throughput on a synthetic corpus (passages of
// 100 words, Zipf-distributed over a 50k-word vocabulary), with the same
// tokenisation `fid bm25` uses. Per corpus size it prints passages/s, then
// queries/s of the pruned search and of the exhaustive reference on the same
// queries, their ratio, and whether the two returned the same hits.
//   bench_bm25 [--big] [--queries N] [--k K] [--write DIR] [passages ...]
// --write DIR also writes each size's passages and queries as text
// (DIR/passages_<n>.txt, DIR/queries_<n>.txt, one per line) for the Xapian
// peer, tests/bench/peers/xapian_bm25.py, which ranks the same texts.
// Sizes default to 200k and 1M passages; --big adds 5M (about 7 GiB of RSS and
// 4 minutes to build on one core).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/splitmix.h"
#include "common/system.h"
#include "index/bm25.h"
#include "text/word_terms.h"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Returns the number of queries on which the two searches disagreed.
size_t run_size(int64_t n, int nq, int k, const std::string& write_dir) {
  const int vocab = 50000;
  // Zipf(1) ranks through an inverse-CDF table; every size draws the same
  // stream, so a smaller corpus is a prefix of a larger one.
  std::vector<double> cdf(vocab);
  double total = 0;
  for (int i = 0; i < vocab; ++i) cdf[i] = (total += 1.0 / (i + 1));
  fid::SplitMix64 rng(42);
  auto word = [&]() {
    double u = static_cast<double>(rng.next() >> 11) / 9007199254740992.0 * total;
    int i = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    return "w" + std::to_string(std::min(i, vocab - 1));
  };
  auto passage = [&]() {
    std::string t;
    for (int w = 0; w < 100; ++w) t += (w ? " " : "") + word();
    return t;
  };

  std::FILE* out = nullptr;
  if (!write_dir.empty()) out = std::fopen((write_dir + "/passages_" + std::to_string(n) + ".txt").c_str(), "w");
  fid::index::Bm25Index idx;
  std::vector<std::string> terms;
  double tokenize_s = 0;
  const auto t0 = clock_type::now();
  for (int64_t i = 0; i < n; ++i) {
    std::string text = passage();
    if (out) std::fprintf(out, "%s\n", text.c_str());
    const auto a = clock_type::now();
    terms.clear();
    fid::text::word_terms(text, terms);
    tokenize_s += seconds_since(a);
    idx.add(i, terms);
  }
  idx.finalize();
  const double build_s = seconds_since(t0);
  if (out) std::fclose(out);

  std::vector<std::vector<std::string>> queries(static_cast<size_t>(nq));
  std::vector<std::string> all_terms;
  std::FILE* qout = write_dir.empty() ? nullptr
                                       : std::fopen((write_dir + "/queries_" + std::to_string(n) + ".txt").c_str(), "w");
  for (auto& q : queries) {
    for (int w = 0; w < 8; ++w) q.push_back(word());
    all_terms.insert(all_terms.end(), q.begin(), q.end());
    if (qout) {
      for (size_t w = 0; w < q.size(); ++w) std::fprintf(qout, "%s%s", w ? " " : "", q[w].c_str());
      std::fprintf(qout, "\n");
    }
  }
  if (qout) std::fclose(qout);
  auto df = idx.document_frequencies(all_terms);
  fid::index::Bm25Stats stats;
  stats.num_docs = idx.num_docs();
  stats.avg_doc_length = static_cast<double>(idx.total_length()) / static_cast<double>(n);
  for (size_t t = 0; t < all_terms.size(); ++t) stats.df[all_terms[t]] = df[t];

  std::vector<std::vector<fid::index::Bm25Hit>> pruned(queries.size());
  int64_t scored = 0, postings = 0;
  auto q0 = clock_type::now();
  for (size_t q = 0; q < queries.size(); ++q) {
    fid::index::Bm25SearchCounters c;
    pruned[q] = idx.search(queries[q], stats, {}, k, &c);
    scored += c.postings_scored;
    postings += c.postings_total;
  }
  const double pruned_s = seconds_since(q0);
  size_t hits = 0, mismatches = 0;
  q0 = clock_type::now();
  for (size_t q = 0; q < queries.size(); ++q) {
    auto h = idx.search_exhaustive(queries[q], stats, {}, k);
    hits += h.size();
    bool same = h.size() == pruned[q].size();
    for (size_t i = 0; same && i < h.size(); ++i) {
      same = h[i].id == pruned[q][i].id && h[i].score == pruned[q][i].score;
    }
    mismatches += same ? 0 : 1;
  }
  const double exhaustive_s = seconds_since(q0);

  std::printf("bm25: %lld passages of 100 words (generation included in build time)\n",
              static_cast<long long>(n));
  std::printf("  index build   %.1f s  %.0f passages/s  (tokenizing %.1f s)\n", build_s,
              static_cast<double>(n) / build_s, tokenize_s);
  std::printf("  pruned        %d queries in %.2f s  %.1f queries/s  (top-%d, %.1f%% of postings scored)\n",
              nq, pruned_s, nq / pruned_s, k,
              100.0 * static_cast<double>(scored) / static_cast<double>(std::max<int64_t>(1, postings)));
  std::printf("  exhaustive    %d queries in %.2f s  %.1f queries/s  (%zu hits)\n", nq, exhaustive_s,
              nq / exhaustive_s, hits);
  std::printf("  speed-up      %.2fx   results differ on %zu of %d queries\n", exhaustive_s / pruned_s,
              mismatches, nq);
  std::printf("  peak RSS      %.0f MiB\n", static_cast<double>(fid::peak_rss_bytes()) / (1 << 20));
  std::fflush(stdout);
  return mismatches;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  bool big = false;
  int nq = 1000, k = 100;
  std::string write_dir;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--big") == 0) {
      big = true;
    } else if (std::strcmp(argv[i], "--queries") == 0 && i + 1 < argc) {
      nq = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--write") == 0 && i + 1 < argc) {
      write_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
      k = std::atoi(argv[++i]);
    } else if (argv[i][0] != '-' && std::atoll(argv[i]) > 0) {
      sizes.push_back(std::atoll(argv[i]));
    } else {
      std::fprintf(stderr, "usage: %s [--big] [--queries N] [--k K] [--write DIR] [passages ...]\n", argv[0]);
      return 2;
    }
  }
  if (sizes.empty()) sizes = {200000, 1000000};
  if (big) sizes.push_back(5000000);
  size_t mismatches = 0;
  for (int64_t n : sizes) mismatches += run_size(n, nq, k, write_dir);
  return mismatches == 0 ? 0 : 1;
}
