// File I/O shared by the data readers and writers: a read buffer over a byte
// range of a file, and an output file that appears under its final name only
// once it is complete.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fid::data {

// The streaming readers scan buf()[pos..size()) and ask for more with
// refill(keep_from), which keeps the unfinished tail. Memory is the buffer,
// grown only when one record does not fit in it.
class BufferedFile {
 public:
  // Reads [begin, end) of the file; end < 0 means to the end of the file.
  // `padding` zero bytes always follow the valid data (simdjson reads ahead).
  BufferedFile(const std::string& path, const char* what, size_t buffer_bytes, size_t padding,
               int64_t begin = 0, int64_t end = -1);
  ~BufferedFile();
  BufferedFile(const BufferedFile&) = delete;
  BufferedFile& operator=(const BufferedFile&) = delete;

  // Moves buf()[keep_from, size()) to the front (doubling the buffer when that
  // span already fills it), lowers pos by keep_from, and reads more. False when
  // nothing more could be read (end of the range).
  bool refill(size_t keep_from);

  char* buf() { return buf_.get(); }
  const char* buf() const { return buf_.get(); }
  size_t size() const { return end_; }        // valid bytes in buf()
  size_t capacity() const { return cap_ + padding_; }  // readable bytes in buf()
  int64_t offset_of(size_t i) const { return file_pos_ + static_cast<int64_t>(i); }
  bool at_eof() const { return eof_; }
  const std::string& path() const { return path_; }

  size_t pos = 0;  // the caller's scan position, kept across refills

 private:
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t padding_ = 0;
  size_t end_ = 0;
  int64_t file_pos_ = 0;   // file offset of buf()[0]
  int64_t next_read_ = 0;  // file offset of the next read
  int64_t range_end_ = -1;
  bool eof_ = false;
};

// 1-based line number of a byte offset, found by reading the file up to it.
// Only for error messages: the streaming readers count no lines.
int64_t line_of_offset(const std::string& path, int64_t offset);

// A buffered output file that appears under its final name only when
// commit() succeeds: data goes to <path>.tmp.<pid>, which commit() syncs and
// renames, and which the destructor removes if commit() was never reached.
class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  // The pending bytes; append to it, then call maybe_flush().
  std::string& buffer() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= kFlushBytes) flush();
  }
  void flush();
  void commit();
  bool committed() const { return committed_; }
  const std::string& path() const { return path_; }
  const std::string& tmp_path() const { return tmp_path_; }

 private:
  static constexpr size_t kFlushBytes = 1u << 20;
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::string buf_;
  bool committed_ = false;
};

}  // namespace fid::data
