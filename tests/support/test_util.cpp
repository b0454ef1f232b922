#include "support/test_util.h"

#include "common/error.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fid::testing {

std::string fixtures_dir() {
  const char* env = std::getenv("FID_FIXTURES");
  if (env != nullptr && *env != '\0') return env;
  return std::string(FID_SOURCE_DIR) + "/tests/data/fixtures";
}

std::string test_data_dir() { return std::string(FID_SOURCE_DIR) + "/tests/data"; }

std::string fid_binary() {
  const char* env = std::getenv("FID_BINARY");
  if (env != nullptr && *env != '\0') return env;
  return std::string(FID_BINARY_DIR) + "/bin/fid";
}

std::string mpi_launch(int np) {
  return np > 1 ? std::string(FID_MPIEXEC) + " -n " + std::to_string(np) + " --oversubscribe " : "";
}

std::string mpi_launch_each(const std::vector<std::string>& rank_commands) {
  // One program on every rank that picks its command by rank, rather than
  // mpiexec's MPMD form ("-n 1 a : -n 1 b"): Open MPI 5.0's mpiexec (Debian
  // 13) crashes on the MPMD form, even for `hostname`.
  std::string script = "case $OMPI_COMM_WORLD_RANK in";
  for (size_t r = 0; r < rank_commands.size(); ++r)
    script += " " + std::to_string(r) + ") " + rank_commands[r] + " ;;";
  script += " esac";
  std::string quoted = "'";
  for (char c : script) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return std::string(FID_MPIEXEC) + " --oversubscribe -n " + std::to_string(rank_commands.size()) + " sh -c " +
         quoted;
}

std::string in_private_mounts(const std::string& script) {
  return "unshare --mount sh -c '" + script + "'";
}

std::string cannot_mount_tmpfs() {
  // Lets a developer run the fallback where mounting works.
  if (std::getenv("FID_TEST_NO_TMPFS") != nullptr) return "FID_TEST_NO_TMPFS is set";
  std::string out;
  const int rc = run_command(in_private_mounts("mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"), &out);
  return rc == 0 ? "" : "cannot mount a tmpfs in a private mount namespace: " + out;
}

std::string slow_io_env(int ms) {
  return "LD_PRELOAD=" + std::string(FID_SLOW_IO_LIB) + " FID_TEST_SLOW_IO_MS=" + std::to_string(ms) + " ";
}

TempDir::TempDir(const std::string& tag) {
  std::string base = std::filesystem::temp_directory_path().string();
  std::string templ = base + "/" + tag + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + base);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.good()) throw std::runtime_error("cannot write " + path);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fid::Error& e) {
    return e.what();
  }
  return "";
}

int run_command(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  int status = pclose(pipe);
  if (output != nullptr) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace fid::testing
