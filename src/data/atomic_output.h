// A buffered output file that appears under its final name only when
// commit() succeeds: data goes to <path>.tmp.<pid>, which commit() syncs and
// renames, and which the destructor removes if commit() was never reached.
#pragma once
#include <string>
#include <string_view>

namespace fid::data {

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
