#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/log.h"

namespace fid {

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  char buf[64];
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(std::string what, int64_t total, std::string unit, double log_interval_s)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total),
      tty_(isatty(STDERR_FILENO) != 0 && log::rank() == 0), log_interval_s_(log_interval_s),
      start_(std::chrono::steady_clock::now()), last_report_(start_) {}

Progress::~Progress() {
  if (!finished_ && tty_ && done_ > 0) std::fputc('\n', stderr);
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate() const {
  double e = elapsed_s();
  return e > 0 ? static_cast<double>(done_) / e : 0.0;
}

std::string Progress::line() const {
  char buf[256];
  double r = rate();
  if (total_ > 0) {
    double eta = r > 0 ? static_cast<double>(total_ - done_) / r : -1;
    std::snprintf(buf, sizeof buf, "%s: %lld/%lld %s (%.1f%%), %.1f %s/s, ETA %s", what_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(),
                  100.0 * static_cast<double>(done_) / static_cast<double>(total_), r,
                  unit_.c_str(), format_duration(eta).c_str());
  } else {
    std::snprintf(buf, sizeof buf, "%s: %lld %s, %.1f %s/s", what_.c_str(),
                  static_cast<long long>(done_), unit_.c_str(), r, unit_.c_str());
  }
  return buf;
}

void Progress::add(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_report_).count();
  // A terminal redraws a few times a second; a log gets a line per interval.
  if (since >= (tty_ ? 0.25 : log_interval_s_)) {
    last_report_ = now;
    report(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  report(true);
}

void Progress::report(bool final) {
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line().c_str(), final ? "\n" : "");
    std::fflush(stderr);
  } else {
    log::info(line());
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace fid
