// Progress of a long job: rate and ETA; a live bar on a terminal, periodic log
// lines otherwise (batch jobs write to files where a bar is noise).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace fid {

class Progress {
 public:
  // total <= 0 means unknown: no ETA, only the rate.
  Progress(std::string what, int64_t total, std::string unit = "items",
           double log_interval_s = 30.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(int64_t n);
  void finish();
  int64_t done() const { return done_; }
  double rate() const;  // units per second since start
  double elapsed_s() const;
  std::string line() const;  // "what: 1200/5000 items, 340.1 items/s, ETA 11s"

 private:
  void report(bool final);
  std::string what_;
  std::string unit_;
  int64_t total_;
  int64_t done_ = 0;
  bool tty_;
  bool finished_ = false;
  double log_interval_s_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_report_;
};

std::string format_duration(double seconds);

// Seconds of the steady clock since t0.
double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace fid
