#include "train/run_log.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"

namespace fid::train {
namespace {

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

// TFRecord masks CRCs so that CRCs of CRCs do not degenerate.
uint32_t masked_crc(const void* data, size_t n) {
  uint32_t crc = crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// Minimal protobuf encoding: varints, length-delimited fields, fixed 32/64.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, int field, int wire) { put_varint(out, (field << 3) | wire); }
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
template <typename T>
void put_fixed(std::string& out, int field, T value) {
  put_tag(out, field, sizeof(T) == 8 ? 1 : 5);
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));
  out.append(buf, sizeof(T));
}

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
std::string event(int64_t step, const std::string* file_version, const std::string* summary) {
  std::string e;
  put_fixed<double>(e, 1, wall_time());
  put_tag(e, 2, 0);
  put_varint(e, static_cast<uint64_t>(step));
  if (file_version != nullptr) put_bytes(e, 3, *file_version);
  if (summary != nullptr) put_bytes(e, 5, *summary);
  return e;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  make_directories(dir);
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  path_ = join_path(dir, "events.out.tfevents." +
                             std::to_string(static_cast<int64_t>(wall_time())) + "." + host +
                             "." + std::to_string(::getpid()));
  file_ = std::fopen(path_.c_str(), "ab");
  FID_CHECK(file_ != nullptr, "cannot create TensorBoard event file '", path_, "'");
  const std::string version = "brain.Event:2";
  write_record(event(0, &version, nullptr));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::write_record(const std::string& data) {
  // TFRecord: uint64 length, masked crc of length, data, masked crc of data.
  uint64_t len = data.size();
  uint32_t len_crc = masked_crc(&len, sizeof len);
  uint32_t data_crc = masked_crc(data.data(), data.size());
  bool ok = std::fwrite(&len, sizeof len, 1, file_) == 1 &&
            std::fwrite(&len_crc, sizeof len_crc, 1, file_) == 1 &&
            std::fwrite(data.data(), 1, data.size(), file_) == data.size() &&
            std::fwrite(&data_crc, sizeof data_crc, 1, file_) == 1;
  FID_CHECK(ok, "cannot write TensorBoard event file '", path_, "'");
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  // Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
  std::string v;
  put_bytes(v, 1, tag);
  put_fixed<float>(v, 2, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, 1, v);
  write_record(event(step, nullptr, &summary));
}

void TensorBoardWriter::flush() { std::fflush(file_); }

RunLogger::RunLogger(const std::string& run_dir, int64_t start_step)
    : jsonl_path_(join_path(run_dir, "metrics.jsonl")), tb_(run_dir) {
  if (!path_exists(jsonl_path_)) return;
  std::ifstream in(jsonl_path_);
  std::string line, kept;
  int64_t dropped = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A torn last line (a kill mid-write) is dropped as well.
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.value("step", INT64_MAX) <= start_step) {
      kept += line + "\n";
    } else {
      ++dropped;
    }
  }
  if (dropped == 0) return;
  write_file_atomic(jsonl_path_, kept);
  log::info("metrics.jsonl: dropped ", dropped, " records after step ", start_step,
            " (the interrupted run's; they are logged again)");
}

void RunLogger::log(int64_t step, const std::map<std::string, double>& scalars) {
  nlohmann::json line = {{"step", step}};
  for (const auto& [k, v] : scalars) {
    line[k] = v;
    tb_.add_scalar(k, v, step);
  }
  tb_.flush();
  std::ofstream out(jsonl_path_, std::ios::app);
  out << line.dump() << "\n";
  FID_CHECK(out.good(), "cannot append to '", jsonl_path_, "'");
}

}  // namespace fid::train
