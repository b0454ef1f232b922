#include "data/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/files.h"

namespace fid::data {

BufferedFile::BufferedFile(const std::string& path, const char* what, size_t buffer_bytes,
                           size_t padding, int64_t begin, int64_t end)
    : path_(path), padding_(padding), file_pos_(begin), next_read_(begin), range_end_(end) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FID_CHECK(fd_ >= 0, "cannot open ", what, " '", path, "': ", std::strerror(errno),
            " (check the path and its permissions)");
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  cap_ = std::max<size_t>(buffer_bytes, 4096);
  buf_.reset(new char[cap_ + padding_]);
  std::memset(buf_.get(), 0, cap_ + padding_);
}

BufferedFile::~BufferedFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool BufferedFile::refill(size_t keep_from) {
  if (eof_) return false;
  const size_t kept = end_ - keep_from;
  if (kept == cap_) {
    // One record larger than the buffer: grow, keeping what was read of it.
    const size_t cap = cap_ * 2;
    std::unique_ptr<char[]> bigger(new char[cap + padding_]);
    std::memcpy(bigger.get(), buf_.get() + keep_from, kept);
    buf_ = std::move(bigger);
    cap_ = cap;
  } else if (keep_from > 0) {
    std::memmove(buf_.get(), buf_.get() + keep_from, kept);
  }
  file_pos_ += static_cast<int64_t>(keep_from);
  pos -= std::min(pos, keep_from);
  end_ = kept;
  size_t got = 0;
  while (end_ < cap_) {
    size_t want = cap_ - end_;
    if (range_end_ >= 0) want = std::min<size_t>(want, static_cast<size_t>(range_end_ - next_read_));
    if (want == 0) {
      eof_ = true;
      break;
    }
    ssize_t n = ::pread(fd_, buf_.get() + end_, want, next_read_);
    if (n < 0 && errno == EINTR) continue;
    FID_CHECK(n >= 0, "cannot read '", path_, "': ", std::strerror(errno));
    if (n == 0) {
      eof_ = true;
      break;
    }
    end_ += static_cast<size_t>(n);
    next_read_ += n;
    got += static_cast<size_t>(n);
  }
  std::memset(buf_.get() + end_, 0, padding_);
  return got > 0;
}

int64_t line_of_offset(const std::string& path, int64_t offset) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::vector<char> buf(1 << 20);
  int64_t line = 1;
  int64_t at = 0;
  while (at < offset) {
    ssize_t n = ::pread(fd, buf.data(), std::min<int64_t>(buf.size(), offset - at), at);
    if (n <= 0) break;
    line += std::count(buf.data(), buf.data() + n, '\n');
    at += n;
  }
  ::close(fd);
  return line;
}

AtomicOutput::AtomicOutput(const std::string& path)
    : path_(path), tmp_path_(path + ".tmp." + std::to_string(::getpid())) {
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FID_CHECK(fd_ >= 0, "cannot create '", tmp_path_, "' (to write '", path, "'): ", std::strerror(errno),
            " (check that the directory exists and is writable)");
  buf_.reserve(kFlushBytes + (64u << 10));
}

AtomicOutput::~AtomicOutput() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void AtomicOutput::flush() {
  FID_CHECK(fd_ >= 0, "writing to '", path_, "' after it was closed");
  size_t off = 0;
  while (off < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      FID_THROW("cannot write '", tmp_path_, "': ", std::strerror(err),
                err == ENOSPC ? " (the disk is full: free space and run again)" : "");
    }
    off += static_cast<size_t>(n);
  }
  buf_.clear();
}

void AtomicOutput::commit() {
  if (committed_) return;
  flush();
  const bool synced = ::fsync(fd_) == 0;
  const int err = errno;
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  FID_CHECK(synced && closed, "cannot finish writing '", tmp_path_, "': ", std::strerror(err));
  rename_durable(tmp_path_, path_);
  committed_ = true;
}

}  // namespace fid::data
