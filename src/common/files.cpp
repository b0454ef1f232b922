#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"

namespace fid {
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.good(), "cannot open '", path, "': ", std::strerror(errno),
            " (check the path and its permissions)");
  std::string data;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) {  // /proc files and pipes have no size: read them as a stream
    in.clear();
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  data.resize(static_cast<size_t>(size));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  FID_CHECK(in.good() || in.eof(), "error reading '", path, "'");
  return data;
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  FID_CHECK(fd >= 0, "cannot open '", path, "' to sync it: ", std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories; that is not data loss.
  FID_CHECK(rc == 0 || err == EINVAL || err == EBADF, "fsync of '", path, "' failed: ",
            std::strerror(err));
}

void rename_durable(const std::string& from, const std::string& to) {
  FID_CHECK(::rename(from.c_str(), to.c_str()) == 0, "cannot rename '", from, "' to '", to,
            "': ", std::strerror(errno));
  fsync_path(parent_path(to));
}

void write_file_atomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FID_CHECK(fd >= 0, "cannot create '", tmp, "': ", std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      FID_THROW("cannot write '", tmp, "': ", std::strerror(err),
                err == ENOSPC ? " (the disk is full: free space and run again)" : "");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    FID_THROW("cannot finish writing '", tmp, "': ", std::strerror(err));
  }
  rename_durable(tmp, path);
}

bool path_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t file_size(const std::string& path) {
  struct stat st{};
  FID_CHECK(::stat(path.c_str(), &st) == 0, "cannot stat '", path, "': ", std::strerror(errno));
  return static_cast<int64_t>(st.st_size);
}

void make_directories(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  FID_CHECK(!ec, "cannot create directory '", path, "': ", ec.message());
}

std::string join_path(const std::string& a, const std::string& b) {
  return (fs::path(a) / fs::path(b)).string();
}

std::string parent_path(const std::string& path) {
  fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

std::string file_fingerprint(const std::string& path) {
  const int64_t size = file_size(path);
  const int64_t window = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.good(), "cannot open '", path, "' to fingerprint it");
  std::vector<char> buf(static_cast<size_t>(std::min(size, window)));
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  uint64_t h = fnv1a64(buf.data(), buf.size());
  if (size > window) {
    in.seekg(size - window);
    in.read(buf.data(), window);
    h = fnv1a64(buf.data(), buf.size(), h);
  }
  char out[64];
  std::snprintf(out, sizeof out, "%lld-%016llx", static_cast<long long>(size),
                static_cast<unsigned long long>(h));
  return out;
}

nlohmann::json read_json_file(const std::string& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    FID_THROW("'", path, "' is not valid JSON: ", e.what());
  }
}

void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

}  // namespace fid
