// BM25 against a brute-force evaluation of the definition, on a seeded random
// corpus; sharded indexes with collection statistics equal one index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

}  // namespace
}  // namespace fid::index
