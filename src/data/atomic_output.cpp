#include "data/atomic_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/files.h"

namespace fid::data {

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
