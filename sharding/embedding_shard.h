// HDF5 embedding shards (DESIGN.md "Embedding shards"): datasets `ids`
// (int64 [n]) and `embeddings` ([n, d], float16 or float32, chunked) plus
// attributes that say what produced them and whether they are complete.
// The writer works on `<name>.tmp`, records the rows done after every batch
// so an interrupted run resumes without losing or duplicating a row, and
// renames to the final name only when every row is written.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sharding/shard_meta.h"

namespace fid::sharding {

inline constexpr const char* kEmbeddingFormat = "fid-embeddings";
inline constexpr int64_t kEmbeddingVersion = 1;

struct WriterOptions {
  bool fletcher32 = false;  // per-chunk checksums, verified on every read
  int64_t chunk_rows = 0;   // 0: about 1 MiB per chunk
};

class EmbeddingShardWriter {
 public:
  // Creates `final_path`.tmp, or reopens it to resume when it exists and its
  // attributes match `meta` (else an error naming the difference). Refuses
  // when `final_path` already exists.
  EmbeddingShardWriter(const std::string& final_path, const ShardMeta& meta,
                       const WriterOptions& options = {});
  // Closes the temporary file without marking it complete (kept for resume).
  ~EmbeddingShardWriter();
  EmbeddingShardWriter(const EmbeddingShardWriter&) = delete;
  EmbeddingShardWriter& operator=(const EmbeddingShardWriter&) = delete;

  // Rows already durable: the next append writes row rows.begin + rows_done().
  int64_t rows_done() const { return rows_done_; }
  int64_t rows_total() const { return meta_.rows.size(); }
  bool resumed() const { return resumed_; }
  const std::string& tmp_path() const { return tmp_path_; }
  const std::string& final_path() const { return final_path_; }

  // Appends n rows: ids[n], vectors[n * dim] row-major float32 (converted to
  // float16 when the shard stores float16), then records them as done.
  void append(const int64_t* ids, const float* vectors, int64_t n);
  // Marks complete, flushes, closes, fsyncs and renames to the final name.
  void finish();

 private:
  void create_file(const std::string& path, const WriterOptions& options);
  void open_for_resume();
  void close_quietly();

  std::string final_path_;
  std::string tmp_path_;
  ShardMeta meta_;
  int64_t rows_done_ = 0;
  bool resumed_ = false;
  bool finished_ = false;
  // HDF5 handles (hid_t); -1 when closed.
  int64_t file_ = -1;
  int64_t ids_ = -1;
  int64_t emb_ = -1;
};

class EmbeddingShardReader {
 public:
  // Opens a final shard and checks format, version, completion, dataset
  // shapes and row range; a truncated or corrupted file is an error naming it.
  explicit EmbeddingShardReader(const std::string& path);
  ~EmbeddingShardReader();
  EmbeddingShardReader(const EmbeddingShardReader&) = delete;
  EmbeddingShardReader& operator=(const EmbeddingShardReader&) = delete;

  const ShardMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  int64_t rows() const { return meta_.rows.size(); }
  int64_t dim() const { return meta_.dim; }

  // Local rows [begin, begin + n) of this shard.
  void read_ids(int64_t begin, int64_t n, int64_t* out) const;
  void read_vectors(int64_t begin, int64_t n, float* out) const;  // (n, dim) float32
  std::vector<int64_t> read_all_ids() const;
  std::vector<float> read_all_vectors() const;
  // Reads every chunk (checksums included when the file has them).
  void verify() const;

 private:
  std::string path_;
  ShardMeta meta_;
  int64_t file_ = -1;
  int64_t ids_ = -1;
  int64_t emb_ = -1;
};

// Reads and checks only the attributes (used to build and check manifests).
ShardMeta read_shard_meta(const std::string& path);

}  // namespace fid::sharding
