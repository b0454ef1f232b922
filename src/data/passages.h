// DPR passages (`id\ttext\ttitle` TSV with a header): random access by id
// through the saved offset index, streaming of a row range for sharded
// embedding, and an atomic writer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "data/file_io.h"
#include "data/tsv.h"

namespace fid::data {

struct Passage {
  std::string id;
  std::string title;
  std::string text;
};

class PassageIndex;

class PassageStore {
 public:
  // Opens the TSV and its index (`index_path`, default <tsv>.fidx), building
  // the index when it is missing or stale.
  explicit PassageStore(const std::string& tsv_path, const std::string& index_path = "");
  ~PassageStore();
  PassageStore(const PassageStore&) = delete;
  PassageStore& operator=(const PassageStore&) = delete;

  int64_t size() const;
  // The row of passage `id`, or -1.
  int64_t row_of(std::string_view id) const;
  bool contains(std::string_view id) const { return row_of(id) >= 0; }
  // Throws (naming the id and the file) when there is no such passage.
  Passage get(std::string_view id) const;
  bool find(std::string_view id, Passage& out) const;
  Passage row(int64_t r) const;
  void read_row(int64_t r, Passage& out) const;
  // Byte offset of row r in the TSV; row_offset(size()) is the data end.
  uint64_t row_offset(int64_t r) const;

  const std::string& path() const { return path_; }
  const std::string& index_path() const { return index_path_; }
  TsvColumns columns() const;
  // True when opening this store built the index (rather than loading it).
  bool built_index() const { return built_; }

 private:
  std::string path_;
  std::string index_path_;
  std::unique_ptr<PassageIndex> index_;
  int fd_ = -1;
  bool built_ = false;
};

// Reads passages in file order: the whole file, or rows [begin, end) of a
// store (each rank of an embedding job reads its own range).
class PassageReader {
 public:
  explicit PassageReader(const std::string& tsv_path, size_t buffer_bytes = 8u << 20);
  PassageReader(const PassageStore& store, int64_t begin_row, int64_t end_row,
                size_t buffer_bytes = 8u << 20);
  bool next(Passage& out);
  // Row number (0-based, header excluded) of the passage last returned.
  int64_t row() const { return row_ - 1; }

 private:
  BufferedFile in_;
  TsvColumns columns_;
  int64_t row_ = 0;
  int64_t end_row_ = -1;
};

// Writes a passages TSV (header first) under a temporary name; close()
// renames it into place.
class PassageWriter {
 public:
  explicit PassageWriter(const std::string& path);
  void write(const Passage& p);
  void close() { out_.commit(); }
  int64_t count() const { return count_; }

 private:
  AtomicOutput out_;
  int64_t count_ = 0;
};

}  // namespace fid::data
