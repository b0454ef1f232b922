// One job per output: a directory that a job writes (a training run, an
// embedding output) holds <dir>/.fid.lock[.<part>] with the holder's host,
// pid and process start time while the job runs. A second job on the same
// directory is refused, naming the holder, instead of resuming (or
// "repairing") the first one's files under its feet; HDF5's own file locks
// are off on most cluster filesystems. The lock of a job that died (same
// host, process gone or its pid reused) is taken over, and the log says so;
// so is the lock of an earlier run of this same SLURM job (same
// SLURM_JOB_ID, lower SLURM_RESTART_COUNT: SLURM requeued it, after it
// ended, possibly onto another host, where its pid cannot be checked).
#pragma once
#include <string>

namespace fid {

class RunLock {
 public:
  // `part` tells apart jobs that share a directory legitimately (the
  // elements of an array job, each writing its own shards); `what` names the
  // directory's role in errors ("--output_path", "the run directory").
  RunLock(const std::string& dir, const std::string& what, const std::string& part = "");
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string mine_;  // the lock file's content while this process holds it
};

}  // namespace fid
