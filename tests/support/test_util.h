// Helpers for tests: where the fixtures are, scratch directories that clean
// up after themselves, and running the `fid` binary.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace fid::testing {

// $FID_FIXTURES when set, else tests/data/fixtures of the source tree.
std::string fixtures_dir();
// tests/data of the source tree.
std::string test_data_dir();
// The built `fid` executable.
std::string fid_binary();
// "<mpiexec> -n np --oversubscribe " when np > 1, else "": put before a
// command to run it on np ranks of this machine.
std::string mpi_launch(int np);
// "<mpiexec> --oversubscribe -n N sh -c 'case $OMPI_COMM_WORLD_RANK in 0) <c0> ;; ...'":
// rank r runs command r, for ranks started with different command lines.
std::string mpi_launch_each(const std::vector<std::string>& rank_commands);
// "LD_PRELOAD=<slow_io> FID_TEST_SLOW_IO_MS=ms ": put before a command so
// that each rename() and H5Fflush() of its processes waits ms first.
std::string slow_io_env(int ms);

// "unshare --mount sh -c '<script>'": the script runs in a private mount
// namespace, where it may mount a small tmpfs (a disk that fills up) that
// vanishes with it. The script must not contain single quotes.
std::string in_private_mounts(const std::string& script);
// Why a test cannot mount a tmpfs here ("" when it can): it needs root's
// CAP_SYS_ADMIN. The full-disk tests then run with a file size limit
// (RLIMIT_FSIZE: writes fail with EFBIG) standing for the full disk.
// FID_TEST_NO_TMPFS=1 forces that path.
std::string cannot_mount_tmpfs();

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "fid-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);

// The message of the fid::Error that `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);

// Runs a shell command; returns its exit status and captures stdout+stderr.
int run_command(const std::string& command, std::string* output = nullptr);

}  // namespace fid::testing
