// BM25 against a brute-force evaluation of the definition, on a seeded random
// corpus; sharded indexes with collection statistics equal one index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "common/error.h"
#include "index/bm25.h"
#include "support/test_util.h"

namespace fid::index {
namespace {

using Doc = std::vector<std::string>;

std::vector<Doc> random_corpus(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Doc> docs(n);
  for (auto& d : docs) {
    int len = 3 + static_cast<int>(rng() % 30);
    for (int i = 0; i < len; ++i) {
      // Zipf-like: small word ids are frequent, so df varies a lot.
      int w = static_cast<int>(std::pow(static_cast<double>(rng() % 10000) / 10000.0, 3) * 60);
      d.push_back("w" + std::to_string(w));
    }
  }
  return docs;
}

// score(q, d) straight from the definition.
std::vector<Bm25Hit> brute_force(const std::vector<Doc>& docs, const Doc& q, double k1, double b) {
  const double n = static_cast<double>(docs.size());
  double total = 0;
  for (const auto& d : docs) total += static_cast<double>(d.size());
  const double avgdl = total / n;
  std::vector<Bm25Hit> hits;
  for (size_t i = 0; i < docs.size(); ++i) {
    double s = 0;
    bool matched = false;
    for (const auto& t : q) {
      double tf = static_cast<double>(std::count(docs[i].begin(), docs[i].end(), t));
      if (tf == 0) continue;
      matched = true;
      double df = 0;
      for (const auto& d : docs) df += std::find(d.begin(), d.end(), t) != d.end() ? 1 : 0;
      double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
      s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * static_cast<double>(docs[i].size()) / avgdl));
    }
    if (matched) hits.push_back({s, static_cast<int64_t>(i)});
  }
  std::sort(hits.begin(), hits.end(), [](const Bm25Hit& a, const Bm25Hit& c) {
    return a.score != c.score ? a.score > c.score : a.id < c.id;
  });
  return hits;
}

// Shards of the corpus, collection stats combined as ranks would, results merged.
std::vector<Bm25Hit> sharded_search(const std::vector<Doc>& docs, int shards, const Doc& q,
                                    const Bm25Params& p, int k) {
  std::vector<Bm25Index> idx(static_cast<size_t>(shards));
  for (size_t i = 0; i < docs.size(); ++i) {
    size_t s = i * static_cast<size_t>(shards) / docs.size();  // contiguous ranges
    idx[s].add(static_cast<int64_t>(i), docs[i]);
  }
  Bm25Stats stats;
  int64_t total = 0;
  for (auto& x : idx) {
    x.finalize();
    stats.num_docs += x.num_docs();
    total += x.total_length();
    for (const auto& t : q) stats.df[t] = 0;
  }
  for (auto& x : idx) {
    auto df = x.document_frequencies(q);
    std::map<std::string, int64_t> seen;
    for (size_t t = 0; t < q.size(); ++t) seen[q[t]] = df[t];
    for (auto& [term, v] : seen) stats.df[term] += v;
  }
  stats.avg_doc_length = static_cast<double>(total) / static_cast<double>(stats.num_docs);
  std::vector<Bm25Hit> all;
  for (auto& x : idx) {
    auto h = x.search(q, stats, p, k);
    all.insert(all.end(), h.begin(), h.end());
  }
  std::sort(all.begin(), all.end(), [](const Bm25Hit& a, const Bm25Hit& c) {
    return a.score != c.score ? a.score > c.score : a.id < c.id;
  });
  if (static_cast<int>(all.size()) > k) all.resize(static_cast<size_t>(k));
  return all;
}

TEST(Bm25, MatchesDefinitionForOneTwoAndThreeShards) {
  auto docs = random_corpus(300, 7);
  auto queries = random_corpus(25, 11);
  queries.push_back({"w0", "w0", "w3"});  // repeated term counts twice
  queries.push_back({"absent"});
  Bm25Params p;
  const int k = 20;
  for (const auto& q : queries) {
    auto expected = brute_force(docs, q, p.k1, p.b);
    if (static_cast<int>(expected.size()) > k) expected.resize(k);
    for (int shards : {1, 2, 3}) {
      auto got = sharded_search(docs, shards, q, p, k);
      ASSERT_EQ(got.size(), expected.size()) << shards << " shards";
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i].score, expected[i].score, 1e-5);
        // Ids agree except where two scores tie within rounding.
        if (i + 1 < got.size() && std::abs(expected[i].score - expected[i + 1].score) > 1e-9 &&
            (i == 0 || std::abs(expected[i].score - expected[i - 1].score) > 1e-9)) {
          EXPECT_EQ(got[i].id, expected[i].id) << "rank " << i << ", " << shards << " shards";
        }
      }
    }
  }
}

TEST(Bm25, ParametersChangeScores) {
  auto docs = random_corpus(50, 3);
  Doc q = {"w1", "w2"};
  Bm25Params other;
  other.k1 = 1.2;
  other.b = 0.75;
  auto a = sharded_search(docs, 1, q, Bm25Params{}, 5);
  auto b = sharded_search(docs, 1, q, other, 5);
  auto expected = brute_force(docs, q, 1.2, 0.75);
  ASSERT_FALSE(b.empty());
  EXPECT_NEAR(b[0].score, expected[0].score, 1e-5);
  EXPECT_GT(std::abs(a[0].score - b[0].score), 1e-3);
}

TEST(Bm25, SaveLoadRoundTripAndTruncationDetected) {
  auto docs = random_corpus(100, 5);
  Bm25Index idx;
  for (size_t i = 0; i < docs.size(); ++i) idx.add(static_cast<int64_t>(i) + 1000, docs[i]);
  idx.finalize();
  testing::TempDir dir;
  const std::string path = dir.file("shard0.bm25");
  idx.save(path, "{\"rows\":[1000,1100]}");
  std::string meta;
  Bm25Index back = Bm25Index::load(path, &meta);
  EXPECT_EQ(meta, "{\"rows\":[1000,1100]}");
  Bm25Stats stats;
  stats.num_docs = 100;
  stats.avg_doc_length = static_cast<double>(idx.total_length()) / 100.0;
  Doc q = {"w0", "w5"};
  auto df = idx.document_frequencies(q);
  stats.df = {{"w0", df[0]}, {"w5", df[1]}};
  auto a = idx.search(q, stats, {}, 10);
  auto b = back.search(q, stats, {}, 10);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].score, b[i].score);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 5);
  try {
    Bm25Index::load(path, nullptr);
    FAIL() << "truncated index accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard0.bm25"), std::string::npos) << e.what();
  }
}

// Zipf-like corpus over `vocab` words, lengths 1..~300 skewed short, with
// some exact duplicates so that scores tie and the id order decides.
std::vector<Doc> zipf_corpus(int n, int vocab, std::mt19937& rng) {
  std::vector<Doc> docs(static_cast<size_t>(n));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto word = [&]() {
    // Inverse CDF of a continuous Zipf(~1): exp(u * ln vocab) - 1.
    int w = static_cast<int>(std::exp(u(rng) * std::log(static_cast<double>(vocab)))) - 1;
    return "t" + std::to_string(std::min(w, vocab - 1));
  };
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i > 0 && rng() % 50 == 0) {
      docs[i] = docs[rng() % i];
      continue;
    }
    const int len = 1 + static_cast<int>(std::pow(u(rng), 2) * 300);
    for (int j = 0; j < len; ++j) docs[i].push_back(word());
  }
  return docs;
}

void expect_same(const std::vector<Bm25Hit>& got, const std::vector<Bm25Hit>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].id, want[i].id) << what << " rank " << i;
    ASSERT_EQ(got[i].score, want[i].score) << what << " rank " << i;  // bit for bit
  }
}

// MaxScore pruning returns exactly what scoring every posting returns, for the
// shard's own statistics and for collection statistics of a bigger index.
TEST(Bm25, PrunedSearchEqualsExhaustive) {
  std::mt19937 rng(20240611);
  const int vocab = 8000;
  auto docs = zipf_corpus(30000, vocab, rng);
  // Global ids in an order unrelated to the shard's, as a shard loaded from
  // shuffled rows would have, so tie-breaking by id is exercised.
  std::vector<int64_t> ids(docs.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i) * 3 + 100;
  std::shuffle(ids.begin(), ids.end(), rng);
  Bm25Index idx;
  for (size_t i = 0; i < docs.size(); ++i) idx.add(ids[i], docs[i]);
  idx.finalize();
  testing::TempDir dir;
  idx.save(dir.file("shard.bm25"), "");
  Bm25Index loaded = Bm25Index::load(dir.file("shard.bm25"), nullptr);

  std::vector<Doc> queries(300);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto& q : queries) {
    const int len = 1 + static_cast<int>(rng() % 12);
    for (int j = 0; j < len; ++j) {
      if (rng() % 10 == 0) {
        q.push_back("absent" + std::to_string(rng() % 3));
      } else if (j > 0 && rng() % 6 == 0) {
        q.push_back(q[rng() % static_cast<size_t>(j)]);  // repeated term
      } else {
        q.push_back("t" + std::to_string(static_cast<int>(std::exp(u(rng) * std::log(vocab))) - 1));
      }
    }
  }
  struct Case {
    std::string name;
    Bm25Params params;
    int64_t scale;  // the collection is `scale` shards like this one
    double avgdl_factor;
  };
  Bm25Params anserini;
  Bm25Params robertson{1.2, 0.75};
  Bm25Params no_length{1.5, 0.0};
  Bm25Params full_length{0.5, 1.0};
  const std::vector<Case> cases = {{"own stats", anserini, 1, 1.0},
                                   {"collection stats", anserini, 4, 1.3},
                                   {"k1=1.2 b=0.75, collection stats", robertson, 7, 0.8},
                                   {"b=0", no_length, 2, 1.0},
                                   {"b=1", full_length, 1, 0.6}};
  const double own_avgdl = static_cast<double>(idx.total_length()) / static_cast<double>(idx.num_docs());
  int compared = 0, pruned_queries = 0;
  int64_t scored = 0, total = 0;
  for (const auto& c : cases) {
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      const Doc& q = queries[qi];
      Bm25Stats stats;
      stats.num_docs = idx.num_docs() * c.scale;
      stats.avg_doc_length = own_avgdl * c.avgdl_factor;
      auto df = idx.document_frequencies(q);
      for (size_t t = 0; t < q.size(); ++t) {
        // Other shards hold the term too, more or less often than this one.
        stats.df[q[t]] = df[t] + (c.scale - 1) * (df[t] * static_cast<int64_t>(qi % 3) / 2 + 1);
      }
      for (int k : {1, 10, 100, 1000}) {
        const std::string what = c.name + ", query " + std::to_string(qi) + ", k=" + std::to_string(k);
        Bm25SearchCounters counters;
        auto got = idx.search(q, stats, c.params, k, &counters);
        auto want = idx.search_exhaustive(q, stats, c.params, k);
        ASSERT_NO_FATAL_FAILURE(expect_same(got, want, what));
        ASSERT_TRUE(counters.pruned) << what;
        ASSERT_LE(counters.postings_scored, counters.postings_total) << what;
        if (k == 10 && (qi % 10) == 0) {
          ASSERT_NO_FATAL_FAILURE(expect_same(loaded.search(q, stats, c.params, k), want, what + " (loaded)"));
        }
        ++compared;
        scored += counters.postings_scored;
        total += counters.postings_total;
        if (counters.postings_scored < counters.postings_total) ++pruned_queries;
      }
    }
  }
  // The comparison above only means something if pruning skipped work.
  EXPECT_GT(pruned_queries, compared / 2) << "of " << compared;
  EXPECT_LT(static_cast<double>(scored), 0.5 * static_cast<double>(total));
  std::printf("[          ] %d searches compared, %d pruned, %.1f%% of postings scored\n", compared,
              pruned_queries, 100.0 * static_cast<double>(scored) / static_cast<double>(total));
}

// Parameters or statistics outside the bounds' assumptions (b > 1, df > N so
// idf < 0) turn pruning off, and the result is still the exhaustive one.
TEST(Bm25, UnprunableQueriesStillEqualExhaustive) {
  std::mt19937 rng(5);
  auto docs = zipf_corpus(3000, 500, rng);
  Bm25Index idx;
  for (size_t i = 0; i < docs.size(); ++i) idx.add(static_cast<int64_t>(docs.size() - i), docs[i]);
  idx.finalize();
  Doc q = {"t0", "t3", "t3", "t40", "t200"};
  Bm25Stats stats;
  stats.num_docs = idx.num_docs();
  stats.avg_doc_length = static_cast<double>(idx.total_length()) / static_cast<double>(idx.num_docs());
  auto df = idx.document_frequencies(q);
  for (size_t t = 0; t < q.size(); ++t) stats.df[q[t]] = df[t];
  Bm25SearchCounters counters;
  Bm25Params odd{0.9, 1.5};
  expect_same(idx.search(q, stats, odd, 50, &counters), idx.search_exhaustive(q, stats, odd, 50), "b=1.5");
  EXPECT_FALSE(counters.pruned);
  stats.df["t0"] = stats.num_docs * 2;
  expect_same(idx.search(q, stats, {}, 50, &counters), idx.search_exhaustive(q, stats, {}, 50), "df > N");
  EXPECT_FALSE(counters.pruned);
}

}  // namespace
}  // namespace fid::index
