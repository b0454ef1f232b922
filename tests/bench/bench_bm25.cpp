// BM25 index build and query throughput on a synthetic corpus (default 1M
// passages of 100 words, Zipf-distributed over a 50k-word vocabulary), with
// the same tokenisation `fid bm25` uses; prints passages/s, queries/s, peak RSS.
//   bench_bm25 [passages] [queries]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/splitmix.h"
#include "common/system.h"
#include "index/bm25.h"
#include "text/word_terms.h"

int main(int argc, char** argv) {
  using clock = std::chrono::steady_clock;
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int nq = argc > 2 ? std::atoi(argv[2]) : 1000;
  const int vocab = 50000;
  // Zipf(1) ranks through an inverse-CDF table.
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

  fid::index::Bm25Index idx;
  std::vector<std::string> terms;
  double tokenize_s = 0;
  const auto t0 = clock::now();
  for (int64_t i = 0; i < n; ++i) {
    std::string text = passage();
    const auto a = clock::now();
    terms.clear();
    fid::text::word_terms(text, terms);
    tokenize_s += std::chrono::duration<double>(clock::now() - a).count();
    idx.add(i, terms);
  }
  idx.finalize();
  const double build_s = std::chrono::duration<double>(clock::now() - t0).count();

  std::vector<std::vector<std::string>> queries(static_cast<size_t>(nq));
  std::vector<std::string> all_terms;
  for (auto& q : queries) {
    for (int w = 0; w < 8; ++w) q.push_back(word());
    all_terms.insert(all_terms.end(), q.begin(), q.end());
  }
  auto df = idx.document_frequencies(all_terms);
  fid::index::Bm25Stats stats;
  stats.num_docs = idx.num_docs();
  stats.avg_doc_length = static_cast<double>(idx.total_length()) / static_cast<double>(n);
  for (size_t t = 0; t < all_terms.size(); ++t) stats.df[all_terms[t]] = df[t];
  const auto q0 = clock::now();
  size_t hits = 0;
  for (const auto& q : queries) hits += idx.search(q, stats, {}, 100).size();
  const double query_s = std::chrono::duration<double>(clock::now() - q0).count();

  std::printf("bm25: %lld passages of 100 words (generation included in build time)\n",
              static_cast<long long>(n));
  std::printf("  index build   %.1f s  %.0f passages/s  (tokenizing %.1f s)\n", build_s,
              static_cast<double>(n) / build_s, tokenize_s);
  std::printf("  queries       %d in %.2f s  %.1f queries/s  (top-100, %zu hits)\n", nq, query_s,
              nq / query_s, hits);
  std::printf("  peak RSS      %.0f MiB\n", static_cast<double>(fid::peak_rss_bytes()) / (1 << 20));
  return 0;
}
