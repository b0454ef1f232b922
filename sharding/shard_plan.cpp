#include "sharding/shard_plan.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/files.h"

namespace fid::sharding {

std::string to_string(const RowRange& r) {
  return "[" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ")";
}

RowRange balanced_range(int64_t n, int64_t parts, int64_t index) {
  FID_CHECK(n >= 0, "row count must be >= 0, got ", n);
  FID_CHECK(parts >= 1, "shard count must be >= 1, got ", parts);
  FID_CHECK(index >= 0 && index < parts, "shard index ", index, " outside [0, ", parts, ")");
  const int64_t base = n / parts;
  const int64_t extra = n % parts;
  // Shards before `index` each hold base rows, plus one for the first `extra`.
  const int64_t begin = index * base + std::min(index, extra);
  const int64_t size = base + (index < extra ? 1 : 0);
  return {begin, begin + size};
}

RowRange split_range(const RowRange& range, int64_t parts, int64_t index) {
  RowRange local = balanced_range(range.size(), parts, index);
  return {range.begin + local.begin, range.begin + local.end};
}

ShardPlan::ShardPlan(int64_t num_rows, int num_shards) : num_rows_(num_rows) {
  ranges_.reserve(static_cast<size_t>(num_shards));
  for (int s = 0; s < num_shards; ++s) ranges_.push_back(balanced_range(num_rows, num_shards, s));
}

ShardPlan ShardPlan::for_jobs(int64_t num_rows, int num_shards, int world) {
  FID_CHECK(world >= 1, "world size must be >= 1, got ", world);
  FID_CHECK(num_shards >= 1, "--num_shards must be >= 1, got ", num_shards);
  std::vector<RowRange> ranges;
  ranges.reserve(static_cast<size_t>(num_shards) * world);
  for (int j = 0; j < num_shards; ++j) {
    RowRange job = balanced_range(num_rows, num_shards, j);
    for (int r = 0; r < world; ++r) ranges.push_back(split_range(job, world, r));
  }
  return from_ranges(std::move(ranges), num_rows);
}

ShardPlan ShardPlan::from_ranges(std::vector<RowRange> ranges, int64_t num_rows) {
  ShardPlan plan;
  plan.num_rows_ = num_rows;
  for (size_t i = 0; i < ranges.size(); ++i) {
    FID_CHECK(ranges[i].begin >= 0 && ranges[i].begin <= ranges[i].end && ranges[i].end <= num_rows,
              "shard ", i, " has row range ", to_string(ranges[i]), " outside [0, ", num_rows, ")");
    FID_CHECK(i == 0 || ranges[i - 1].end <= ranges[i].begin, "shard ", i, " range ",
              to_string(ranges[i]), " overlaps or precedes shard ", i - 1, " range ",
              to_string(ranges[i - 1]), " (shards must be sorted and disjoint)");
  }
  plan.ranges_ = std::move(ranges);
  return plan;
}

const RowRange& ShardPlan::shard_range(int shard) const {
  FID_CHECK(shard >= 0 && shard < num_shards(), "shard ", shard, " outside [0, ", num_shards(), ")");
  return ranges_[static_cast<size_t>(shard)];
}

int ShardPlan::shard_of_row(int64_t row) const {
  // Ranges are sorted and disjoint: the first range ending after `row`.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), row,
                             [](int64_t r, const RowRange& range) { return r < range.end; });
  if (it == ranges_.end() || !it->contains(row)) return -1;
  return static_cast<int>(it - ranges_.begin());
}

bool ShardPlan::covers_all_rows() const {
  int64_t next = 0;
  for (const auto& r : ranges_) {
    if (r.begin != next) return false;
    next = r.end;
  }
  return next == num_rows_;
}

std::vector<int> ShardPlan::shards_for_rank(int rank, int world) const {
  FID_CHECK(world >= 1 && rank >= 0 && rank < world, "rank ", rank, " outside world of ", world);
  RowRange block = balanced_range(num_shards(), world, rank);
  std::vector<int> out;
  for (int64_t s = block.begin; s < block.end; ++s) out.push_back(static_cast<int>(s));
  return out;
}

int ShardPlan::rank_of_shard(int shard, int world) const {
  FID_CHECK(shard >= 0 && shard < num_shards(), "shard ", shard, " outside [0, ", num_shards(), ")");
  for (int r = 0; r < world; ++r) {
    if (balanced_range(num_shards(), world, r).contains(shard)) return r;
  }
  FID_THROW("no rank owns shard ", shard);
}

WorkAssignment assign_work(int64_t num_rows, int job_shard_id, int job_num_shards, int rank,
                           int world) {
  FID_CHECK(job_num_shards >= 1, "--num_shards must be >= 1, got ", job_num_shards);
  FID_CHECK(job_shard_id >= 0 && job_shard_id < job_num_shards, "--shard_id ", job_shard_id,
            " must be in [0, --num_shards=", job_num_shards, ")");
  FID_CHECK(world >= 1 && rank >= 0 && rank < world, "rank ", rank, " outside world of ", world);
  WorkAssignment w;
  w.shard_index = job_shard_id * world + rank;
  w.shard_count = job_num_shards * world;
  w.rows = split_range(balanced_range(num_rows, job_num_shards, job_shard_id), world, rank);
  return w;
}

std::string shard_file_name(const std::string& prefix, int shard_index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%05d.h5", shard_index);
  return prefix + buf;
}

std::string shard_prefix(const std::string& output) {
  if (is_directory(output) || (!output.empty() && output.back() == '/')) return join_path(output, "passages");
  return output;
}

}  // namespace fid::sharding
