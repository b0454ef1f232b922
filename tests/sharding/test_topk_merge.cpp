// Top-k merging (faiss merge_knn_results semantics, ties by smaller id) and
// the search core in a world of one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/error.h"
#include "dist/world.h"
#include "sharding/topk_merge.h"

namespace fid::sharding {
namespace {

struct Cand {
  float s;
  int64_t id;
};

// Splits candidates of one query per part, each part sorted and cut to k.
TopK make_part(const std::vector<std::vector<Cand>>& per_query, int k) {
  TopK t;
  t.nq = static_cast<int64_t>(per_query.size());
  t.k = k;
  t.scores.assign(static_cast<size_t>(t.nq * k), 0.f);
  t.ids.assign(static_cast<size_t>(t.nq * k), -1);
  for (int64_t q = 0; q < t.nq; ++q) {
    auto c = per_query[q];
    std::sort(c.begin(), c.end(), [](const Cand& a, const Cand& b) { return ranks_before(a.s, a.id, b.s, b.id); });
    for (int j = 0; j < k && j < static_cast<int>(c.size()); ++j) {
      t.scores[q * k + j] = c[j].s;
      t.ids[q * k + j] = c[j].id;
    }
  }
  return t;
}

TEST(TopKMerge, RandomListsEqualGlobalSort) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const int parts = std::uniform_int_distribution<int>(1, 5)(rng);
    const int nq = std::uniform_int_distribution<int>(1, 6)(rng);
    const int k = std::uniform_int_distribution<int>(1, 12)(rng);
    // Scores from a small set so ties are frequent; ids unique across parts.
    std::uniform_int_distribution<int> score(0, 6);
    std::vector<std::vector<std::vector<Cand>>> cands(parts, std::vector<std::vector<Cand>>(nq));
    std::vector<std::vector<Cand>> all(nq);
    int64_t next_id = 0;
    std::vector<int64_t> perm(200);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int p = 0; p < parts; ++p) {
      for (int q = 0; q < nq; ++q) {
        const int n = std::uniform_int_distribution<int>(0, 15)(rng);
        for (int i = 0; i < n; ++i) {
          Cand c{score(rng) * 0.25f, perm[next_id++ % 200] + 1000 * q};
          cands[p][q].push_back(c);
        }
      }
    }
    std::vector<TopK> lists;
    for (int p = 0; p < parts; ++p) lists.push_back(make_part(cands[p], k));
    // The global answer: every part's own top k pooled, then the best k.
    for (int p = 0; p < parts; ++p) {
      for (int q = 0; q < nq; ++q) {
        for (int j = 0; j < k; ++j) {
          if (lists[p].ids[q * k + j] >= 0) all[q].push_back({lists[p].scores[q * k + j], lists[p].ids[q * k + j]});
        }
      }
    }
    std::vector<const TopK*> ptrs;
    for (auto& l : lists) ptrs.push_back(&l);
    TopK merged = merge_topk(ptrs, k);
    TopK expect = make_part(all, k);
    ASSERT_EQ(merged.ids, expect.ids) << "trial " << trial;
    for (size_t i = 0; i < merged.ids.size(); ++i) {
      if (merged.ids[i] >= 0) {
        ASSERT_EQ(merged.scores[i], expect.scores[i]);
      }
    }
  }
}

TEST(TopKMerge, TiesBrokenBySmallerId) {
  TopK a = make_part({{{1.f, 9}, {1.f, 4}, {0.5f, 1}}}, 3);
  TopK b = make_part({{{1.f, 5}, {1.f, 2}}}, 3);
  TopK m = merge_topk({&a, &b}, 4);
  EXPECT_EQ(m.ids, (std::vector<int64_t>{2, 4, 5, 9}));
  // The order of the parts does not matter.
  TopK m2 = merge_topk({&b, &a}, 4);
  EXPECT_EQ(m2.ids, m.ids);
}

TEST(TopKMerge, FewerThanKLeavesEmptySlots) {
  TopK a = make_part({{{0.3f, 7}}}, 2);
  TopK m = merge_topk({&a}, 3);
  EXPECT_EQ(m.ids, (std::vector<int64_t>{7, -1, -1}));
  EXPECT_TRUE(std::isinf(m.scores[1]) && m.scores[1] < 0);
}

TEST(TopKMerge, SortTopKPutsEmptiesLast) {
  TopK t;
  t.nq = 1;
  t.k = 4;
  t.scores = {0.1f, 5.f, 0.9f, 0.9f};
  t.ids = {3, -1, 8, 2};
  sort_topk(t);
  EXPECT_EQ(t.ids, (std::vector<int64_t>{2, 8, 3, -1}));
}

TEST(TopKMerge, StringBatchesConcatenate) {
  std::string a = encode_strings({"who", ""}), b = encode_strings({"wrote hamlet"});
  EXPECT_EQ(decode_strings(a + b), (std::vector<std::string>{"who", "", "wrote hamlet"}));
  EXPECT_THROW(decode_strings(a.substr(0, a.size() - 1)), fid::Error);
}

TEST(DistributedSearch, WorldOfOneCallsSearchOnceWithAllQueries) {
  auto comm = dist::make_local_communicator();
  std::vector<float> q = {1, 2, 3, 4, 5, 6};  // 3 queries of dim 2
  int calls = 0;
  TopK r = distributed_search_dense(*comm, q.data(), 3, 2, 2,
      [&](const float* x, int64_t nq, int k, float* s, int64_t* ids) {
        ++calls;
        ASSERT_EQ(nq, 3);
        for (int64_t i = 0; i < nq; ++i) {
          // Two hits per query, given unsorted: the core sorts them.
          s[i * k] = x[i * 2];
          ids[i * k] = 10 * i;
          s[i * k + 1] = x[i * 2 + 1];
          ids[i * k + 1] = 10 * i + 1;
        }
      });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.nq, 3);
  EXPECT_EQ(r.ids, (std::vector<int64_t>{1, 0, 11, 10, 21, 20}));
  EXPECT_EQ(r.scores, (std::vector<float>{2, 1, 4, 3, 6, 5}));
}

}  // namespace
}  // namespace fid::sharding
