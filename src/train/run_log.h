// Run logs: metrics.jsonl (one JSON object per record) and TensorBoard event
// files with the same scalars, hand-encoded (TFRecord framing of Event
// protobufs) so that no TensorBoard or protobuf library is needed.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace fid::train {

class TensorBoardWriter {
 public:
  // Creates <dir>/events.out.tfevents.<time>.<host>.<pid>.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;
  void add_scalar(const std::string& tag, double value, int64_t step);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Appends {"step": s, <scalars>...} lines to metrics.jsonl and mirrors every
// scalar to TensorBoard. Only the rank that owns the run directory logs.
class RunLogger {
 public:
  // A run that starts (or resumes) at `start_step` first drops the records
  // of later steps that an interrupted run left: they are logged again.
  RunLogger(const std::string& run_dir, int64_t start_step);
  void log(int64_t step, const std::map<std::string, double>& scalars);

 private:
  std::string jsonl_path_;
  TensorBoardWriter tb_;
};

uint32_t crc32c(const void* data, size_t n);

}  // namespace fid::train
