// One shard plan used by embedding, indexing and search. N rows (passages in
// file order) are cut into contiguous, balanced ranges; a global id is a row
// offset, so every stage agrees on ids without exchanging them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fid::sharding {

// Rows [begin, end) of the passages file.
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool contains(int64_t row) const { return row >= begin && row < end; }
  bool operator==(const RowRange& o) const { return begin == o.begin && end == o.end; }
  bool operator!=(const RowRange& o) const { return !(*this == o); }
};
std::string to_string(const RowRange& r);

// Part `index` of `parts` balanced contiguous parts of [0, n): the first
// n % parts parts get one row more.
RowRange balanced_range(int64_t n, int64_t parts, int64_t index);
// Same split applied to an arbitrary range.
RowRange split_range(const RowRange& range, int64_t parts, int64_t index);

class ShardPlan {
 public:
  ShardPlan() = default;
  // N rows in S flat balanced shards.
  ShardPlan(int64_t num_rows, int num_shards);
  // The array-job form combined with mpirun: job element `shard_id` of
  // `num_shards` owns a balanced part of N, and inside it `world` ranks split
  // that part again. Shard index = shard_id * world + rank, shard count =
  // num_shards * world, so the files of every element form one plan.
  static ShardPlan for_jobs(int64_t num_rows, int num_shards, int world);
  // Shards given explicitly (e.g. read back from a manifest); they must be
  // sorted and must not overlap.
  static ShardPlan from_ranges(std::vector<RowRange> ranges, int64_t num_rows);

  int64_t num_rows() const { return num_rows_; }
  int num_shards() const { return static_cast<int>(ranges_.size()); }
  const RowRange& shard_range(int shard) const;
  const std::vector<RowRange>& ranges() const { return ranges_; }
  // The shard holding `row`, or -1 when no shard covers it.
  int shard_of_row(int64_t row) const;
  // True when the shards cover [0, num_rows) without a gap.
  bool covers_all_rows() const;

  // Shards searched by `rank` of `world`: a contiguous block of shard
  // indices, balanced by count (ranks past the shard count get none).
  std::vector<int> shards_for_rank(int rank, int world) const;
  // The rank that owns `shard` in a world of `world` ranks.
  int rank_of_shard(int shard, int world) const;

 private:
  int64_t num_rows_ = 0;
  std::vector<RowRange> ranges_;
};

// What one process of an embedding job writes: shard `shard_index` of
// `shard_count`, covering `rows`.
struct WorkAssignment {
  int shard_index = 0;
  int shard_count = 1;
  RowRange rows;
};
// job_shard_id/job_num_shards: the seed's --shard_id/--num_shards (0/1 when
// not given); rank/world: the MPI world inside that job element.
WorkAssignment assign_work(int64_t num_rows, int job_shard_id, int job_num_shards, int rank,
                           int world);

// "passages_00003.h5": the file name of shard 3 under an output prefix.
std::string shard_file_name(const std::string& prefix, int shard_index);

// The shard prefix of an --output_path: itself, or for a directory (existing,
// or written with a trailing '/') <dir>/passages.
std::string shard_prefix(const std::string& output_path);

}  // namespace fid::sharding
