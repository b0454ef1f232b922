#include "common/file_table.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "common/files.h"

namespace fid {
namespace fs = std::filesystem;

std::string hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.good(), "cannot read checkpoint file '", path, "'");
  std::vector<char> buf(1 << 20);
  uint64_t h = 1469598103934665603ULL;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = fnv1a64(buf.data(), static_cast<size_t>(in.gcount()), h);
  }
  char out[20];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

nlohmann::json make_file_table(const std::string& dir, const std::set<std::string>& skip) {
  nlohmann::json table = nlohmann::json::object();
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), dir).string();
    if (skip.count(rel)) continue;
    table[rel] = {{"bytes", static_cast<int64_t>(e.file_size())}, {"fnv64", hash_file(e.path().string())}};
  }
  return table;
}

void verify_file_table(const std::string& dir, const nlohmann::json& table, const std::set<std::string>& skip) {
  for (const auto& [rel, info] : table.items()) {
    if (skip.count(rel)) continue;
    const std::string path = join_path(dir, rel);
    FID_CHECK(path_exists(path), "checkpoint file '", path, "' is missing");
    const int64_t bytes = file_size(path);
    FID_CHECK(bytes == info.at("bytes").get<int64_t>(), "checkpoint file '", path, "' has ", bytes,
              " bytes, expected ", info.at("bytes").get<int64_t>(), ": it is truncated or was modified");
    FID_CHECK(hash_file(path) == info.at("fnv64").get<std::string>(), "checkpoint file '", path,
              "' is corrupted (content hash differs from the one recorded when it was written)");
  }
}

void verify_if_checkpoint(const std::string& dir) {
  const std::string state_path = join_path(dir, kCheckpointStateFile);
  if (!path_exists(state_path)) return;
  const nlohmann::json state = read_json_file(state_path);
  if (state.contains("files")) verify_file_table(dir, state.at("files"), {kCheckpointTensorsFile});
}

}  // namespace fid
