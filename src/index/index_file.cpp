#include "index/index_file.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"

namespace fid::index {
namespace {
std::string manifest_path(const std::string& path) { return path + ".json"; }

std::string shards_text(const std::vector<CoveredShard>& shards) {
  std::string s;
  for (const auto& c : shards) {
    if (!s.empty()) s += " ";
    s += std::to_string(c.index) + ":[" + std::to_string(c.row_begin) + "," +
         std::to_string(c.row_end) + ")";
  }
  return s.empty() ? "none" : s;
}
}  // namespace

std::string index_file_for_shard(const std::string& dir, int shard_index) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "index_s%05d.faiss", shard_index);
  return join_path(dir, buf);
}

void save_index(const std::string& path, const DenseIndex& index, IndexManifest manifest) {
  manifest.params = index.params();
  manifest.ntotal = index.size();
  nlohmann::json j;
  j["format"] = kIndexFormat;
  j["version"] = kIndexVersion;
  j["params"] = manifest.params.to_json();
  j["ntotal"] = manifest.ntotal;
  j["embeddings_id"] = manifest.embeddings_id;
  j["shards"] = nlohmann::json::array();
  for (const auto& s : manifest.shards) {
    j["shards"].push_back({{"index", s.index}, {"row_begin", s.row_begin}, {"row_end", s.row_end}});
  }
  // Index first, manifest last: a manifest only ever describes a whole file.
  write_file_atomic(path, index.serialize());
  write_json_atomic(manifest_path(path), j);
}

bool saved_index_exists(const std::string& path) {
  return path_exists(path) && path_exists(manifest_path(path));
}

IndexManifest read_index_manifest(const std::string& path) {
  const std::string mpath = manifest_path(path);
  nlohmann::json j = read_json_file(mpath);
  FID_CHECK(j.is_object() && j.value("format", std::string()) == kIndexFormat, "'", mpath,
            "' is not an index manifest (format must be '", kIndexFormat, "')");
  FID_CHECK(j.value("version", int64_t{-1}) == kIndexVersion, "index manifest '", mpath,
            "' has version ", j.value("version", int64_t{-1}), ", this build reads ",
            kIndexVersion, "; HINT: rebuild the index");
  IndexManifest m;
  try {
    m.params = IndexParams::from_json(j.at("params"));
    m.ntotal = j.at("ntotal").get<int64_t>();
    m.embeddings_id = j.at("embeddings_id").get<std::string>();
    for (const auto& s : j.at("shards")) {
      m.shards.push_back({s.at("index").get<int>(), s.at("row_begin").get<int64_t>(),
                          s.at("row_end").get<int64_t>()});
    }
  } catch (const nlohmann::json::exception& e) {
    FID_THROW("index manifest '", mpath, "' is malformed (", e.what(), "); rebuild the index");
  }
  return m;
}

DenseIndex load_index(const std::string& path, const IndexManifest& expected) {
  FID_CHECK(saved_index_exists(path), "no saved index at '", path, "' (or its manifest '",
            manifest_path(path), "' is missing)");
  IndexManifest got = read_index_manifest(path);
  auto refuse = [&](const std::string& what, const std::string& want, const std::string& have) {
    FID_THROW("the saved index '", path, "' was built for ", what, " ", have, " but this run has ",
              want, "; rebuild the index (remove the saved index files, or point ",
              "--save_or_load_index elsewhere)");
  };
  const IndexParams& p = expected.params;
  if (got.params.dim != p.dim) refuse("dimension", std::to_string(p.dim), std::to_string(got.params.dim));
  if (got.params.to_json() != p.to_json()) refuse("index", p.describe(), got.params.describe());
  if (!(got.shards == expected.shards))
    refuse("shards", shards_text(expected.shards), shards_text(got.shards));
  if (got.embeddings_id != expected.embeddings_id)
    refuse("embeddings", "'" + expected.embeddings_id + "'", "'" + got.embeddings_id + "'");
  IndexParams with_nprobe = got.params;  // search settings are this run's
  with_nprobe.nprobe = p.nprobe;
  with_nprobe.ef_search = p.ef_search;
  DenseIndex index = DenseIndex::deserialize(read_file(path), with_nprobe);
  FID_CHECK(index.size() == got.ntotal, "the saved index '", path, "' holds ", index.size(),
            " vectors but its manifest says ", got.ntotal, "; rebuild the index");
  int64_t rows = 0;
  for (const auto& s : expected.shards) rows += s.row_end - s.row_begin;
  FID_CHECK(index.size() == rows, "the saved index '", path, "' holds ", index.size(),
            " vectors but its shards have ", rows, " rows; rebuild the index");
  return index;
}

}  // namespace fid::index
