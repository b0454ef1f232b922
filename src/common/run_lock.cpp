#include "common/run_lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"

namespace fid {
namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

// Field 22 of /proc/<pid>/stat: the process start time in clock ticks since
// boot; tells a live holder from a new process that got its pid.
std::string start_ticks(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return "";
  const size_t close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

struct Holder {
  std::string host, start;
  long pid = -1;
  std::string job = "-";  // SLURM_JOB_ID ("-" outside SLURM)
  long restart = 0;       // SLURM_RESTART_COUNT
};

Holder parse(const std::string& text) {
  Holder h;
  std::istringstream in(text);
  in >> h.host >> h.pid >> h.start >> h.job >> h.restart;  // older locks stop after start
  return h;
}

std::string env_or_dash(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string("-");
}

// This process's SLURM job and how often SLURM has requeued it.
Holder this_job() {
  Holder me;
  me.job = env_or_dash("SLURM_JOB_ID");
  const std::string r = env_or_dash("SLURM_RESTART_COUNT");
  me.restart = r == "-" ? 0 : std::atol(r.c_str());
  return me;
}

// The holder is an earlier run of this job: SLURM requeues a job only once
// it has ended, so that run is gone wherever it ran.
bool earlier_run_of_this_job(const Holder& h, const Holder& me) {
  return me.job != "-" && h.job == me.job && h.restart < me.restart;
}

// Field 3 of /proc/<pid>/stat: 'Z' (zombie) or 'X' is a process that ended.
bool ended(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;
  const size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] == 'Z' ||
         stat[close + 2] == 'X';
}

// Same host and the process that wrote the lock is still running.
bool alive_here(const Holder& h, const std::string& here) {
  if (h.host != here || h.pid <= 0) return false;
  if (::kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH) return false;
  return start_ticks(h.pid) == h.start && !ended(h.pid);
}

// A job that is being torn down (its launcher killing the last ranks after
// one died) holds the lock for a moment more: give it a few seconds.
bool alive_after_grace(const Holder& h, const std::string& here) {
  for (int i = 0; i < 30 && alive_here(h, here); ++i) ::usleep(100 * 1000);
  return alive_here(h, here);
}

}  // namespace

RunLock::RunLock(const std::string& dir, const std::string& what, const std::string& part) {
  make_directories(dir);
  path_ = join_path(dir, part.empty() ? ".fid.lock" : ".fid.lock." + part);
  const std::string here = host_name();
  const long pid = static_cast<long>(::getpid());
  const Holder me = this_job();
  mine_ = here + " " + std::to_string(pid) + " " + start_ticks(pid) + " " + me.job + " " +
          std::to_string(me.restart) + "\n";
  // Written aside, then linked into place: link() fails when the lock
  // exists, atomically, on NFS as well.
  const std::string tmp = path_ + ".new." + std::to_string(pid);
  write_file_atomic(tmp, mine_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::link(tmp.c_str(), path_.c_str()) == 0) break;
    const int err = errno;
    if (err != EEXIST) {
      std::remove(tmp.c_str());
      FID_THROW("cannot create the lock '", path_, "': ", std::strerror(err));
    }
    const Holder h = parse(read_file(path_));
    if (earlier_run_of_this_job(h, me)) {
      log::warn("taking over '", path_, "': it was held by run ", h.restart, " of SLURM job ", h.job, " (", h.host,
                " pid ", h.pid, "), which SLURM requeued as this run ", me.restart);
      std::remove(path_.c_str());
      continue;
    }
    if (h.host == here && !alive_after_grace(h, here)) {
      log::warn("taking over '", path_, "': the job that held it (", h.host, " pid ", h.pid,
                ") is gone");
      std::remove(path_.c_str());
      continue;
    }
    std::remove(tmp.c_str());
    FID_THROW(what, " '", dir, "' is in use by another job (", h.host, " pid ", h.pid,
              "; lock '", path_, "'): wait for it to finish, or give another directory",
              h.host == here ? std::string()
                             : ". HINT: it runs on another host; if that job is gone, remove the lock");
  }
  std::remove(tmp.c_str());
  FID_CHECK(read_file(path_) == mine_, "another job took the lock '", path_, "' at the same time");
}

RunLock::~RunLock() {
  // Only our own lock is removed (a takeover may have replaced it).
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  if (text.str() == mine_) std::remove(path_.c_str());
}

}  // namespace fid
