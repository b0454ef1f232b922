// The shard plan: balanced contiguous ranges that cover every row once, in
// the flat, array-job and rank-assignment forms.
#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "sharding/shard_plan.h"

namespace fid::sharding {
namespace {

// Union of the ranges is exactly [0, n), in order, each size base or base+1.
void expect_partition(const std::vector<RowRange>& ranges, int64_t n) {
  int64_t next = 0;
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& r : ranges) {
    EXPECT_EQ(r.begin, next);
    EXPECT_LE(r.begin, r.end);
    next = r.end;
    lo = std::min(lo, r.size());
    hi = std::max(hi, r.size());
  }
  EXPECT_EQ(next, n);
  if (!ranges.empty()) {
    EXPECT_LE(hi - lo, 1) << "n=" << n << " parts=" << ranges.size();
  }
}

TEST(ShardPlan, BalancedRangeExamples) {
  // 10 rows in 3 shards: the first 10 % 3 = 1 shard has one more.
  EXPECT_EQ(balanced_range(10, 3, 0), (RowRange{0, 4}));
  EXPECT_EQ(balanced_range(10, 3, 1), (RowRange{4, 7}));
  EXPECT_EQ(balanced_range(10, 3, 2), (RowRange{7, 10}));
  EXPECT_EQ(balanced_range(2, 4, 3), (RowRange{2, 2}));
  EXPECT_THROW(balanced_range(10, 0, 0), fid::Error);
  EXPECT_THROW(balanced_range(10, 3, 3), fid::Error);
}

TEST(ShardPlan, PropertiesOverManySizes) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    const int64_t n = std::uniform_int_distribution<int64_t>(0, 5000)(rng);
    const int s = std::uniform_int_distribution<int>(1, 40)(rng);
    ShardPlan plan(n, s);
    ASSERT_EQ(plan.num_shards(), s);
    expect_partition(plan.ranges(), n);
    EXPECT_TRUE(plan.covers_all_rows());
    // Every row is found in the shard that holds it.
    for (int k = 0; k < 20 && n > 0; ++k) {
      const int64_t row = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
      const int shard = plan.shard_of_row(row);
      ASSERT_GE(shard, 0);
      EXPECT_TRUE(plan.shard_range(shard).contains(row));
    }
    EXPECT_EQ(plan.shard_of_row(n), -1);
  }
}

TEST(ShardPlan, ShardsToRanksAreContiguousAndBalanced) {
  for (int s = 1; s <= 12; ++s) {
    ShardPlan plan(1000, s);
    for (int w = 1; w <= 7; ++w) {
      std::vector<int> seen;
      size_t lo = SIZE_MAX, hi = 0;
      for (int r = 0; r < w; ++r) {
        auto mine = plan.shards_for_rank(r, w);
        lo = std::min(lo, mine.size());
        hi = std::max(hi, mine.size());
        for (int sh : mine) {
          EXPECT_EQ(plan.rank_of_shard(sh, w), r);
          seen.push_back(sh);
        }
      }
      // Every shard exactly once, in order (contiguous blocks by rank).
      ASSERT_EQ(static_cast<int>(seen.size()), s);
      for (int i = 0; i < s; ++i) EXPECT_EQ(seen[i], i);
      EXPECT_LE(hi - lo, 1u);
    }
  }
}

TEST(ShardPlan, ArrayJobsCombinedWithRanks) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n = std::uniform_int_distribution<int64_t>(0, 3000)(rng);
    const int jobs = std::uniform_int_distribution<int>(1, 6)(rng);
    const int world = std::uniform_int_distribution<int>(1, 5)(rng);
    ShardPlan plan = ShardPlan::for_jobs(n, jobs, world);
    ASSERT_EQ(plan.num_shards(), jobs * world);
    expect_partition(plan.ranges(), n);
    for (int j = 0; j < jobs; ++j) {
      for (int r = 0; r < world; ++r) {
        WorkAssignment w = assign_work(n, j, jobs, r, world);
        EXPECT_EQ(w.shard_index, j * world + r);
        EXPECT_EQ(w.shard_count, jobs * world);
        EXPECT_EQ(w.rows, plan.shard_range(w.shard_index));
      }
    }
  }
  // One job element, one rank: the whole file.
  EXPECT_EQ(assign_work(17, 0, 1, 0, 1).rows, (RowRange{0, 17}));
  EXPECT_THROW(assign_work(17, 2, 2, 0, 1), fid::Error);
}

TEST(ShardPlan, FromRangesRejectsOverlap) {
  ShardPlan ok = ShardPlan::from_ranges({{0, 5}, {8, 10}}, 10);
  EXPECT_FALSE(ok.covers_all_rows());
  EXPECT_EQ(ok.shard_of_row(6), -1);
  EXPECT_EQ(ok.shard_of_row(9), 1);
  EXPECT_THROW(ShardPlan::from_ranges({{0, 5}, {4, 10}}, 10), fid::Error);
  EXPECT_THROW(ShardPlan::from_ranges({{0, 11}}, 10), fid::Error);
}

TEST(ShardPlan, FileNames) {
  EXPECT_EQ(shard_file_name("out/passages", 3), "out/passages_00003.h5");
}

}  // namespace
}  // namespace fid::sharding
