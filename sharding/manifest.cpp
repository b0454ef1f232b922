#include "sharding/manifest.h"

#include <glob.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"

namespace fid::sharding {
namespace {

std::string relative_to(const std::string& file, const std::string& dir) {
  if (dir.empty() || dir == ".") return file;
  std::string prefix = dir.back() == '/' ? dir : dir + "/";
  return file.rfind(prefix, 0) == 0 ? file.substr(prefix.size()) : file;
}

// The attributes every shard of one run shares, compared with the first.
void check_same_run(const ShardMeta& first, const std::string& first_path, const ShardMeta& m,
                    const std::string& path) {
  const std::string diff = meta_difference(first, m, false, first_path, path);
  FID_CHECK(diff.empty(), "embedding shards '", first_path, "' and '", path, "' differ (", diff,
            "): they come from different embedding runs; list only the shards of one run");
}

void sort_and_check(Manifest& m, const std::string& source) {
  std::sort(m.shards.begin(), m.shards.end(),
            [](const ManifestShard& a, const ManifestShard& b) { return a.index < b.index; });
  for (size_t i = 0; i < m.shards.size(); ++i) {
    const auto& s = m.shards[i];
    FID_CHECK(s.index >= 0 && s.index < m.shard_count, source, ": shard '", s.file, "' has index ",
              s.index, " outside [0, ", m.shard_count, ")");
    FID_CHECK(i == 0 || m.shards[i - 1].index != s.index, source, ": shard index ", s.index,
              " is listed twice ('", m.shards[i - 1].file, "' and '", s.file, "')");
    FID_CHECK(i == 0 || m.shards[i - 1].rows.end <= s.rows.begin, source, ": the rows of '",
              s.file, "' ", to_string(s.rows), " overlap those of '", m.shards[i - 1].file, "' ",
              to_string(m.shards[i - 1].rows));
  }
  m.total_rows = std::max(m.total_rows, m.shards.empty() ? 0 : m.shards.back().rows.end);
}
}  // namespace

std::string Manifest::shard_path(const ManifestShard& s) const {
  if (base_dir.empty() || (!s.file.empty() && s.file[0] == '/')) return s.file;
  return join_path(base_dir, s.file);
}

int64_t Manifest::rows_listed() const {
  int64_t n = 0;
  for (const auto& s : shards) n += s.rows.size();
  return n;
}

ShardPlan Manifest::plan() const {
  std::vector<RowRange> ranges;
  for (const auto& s : shards) ranges.push_back(s.rows);
  return ShardPlan::from_ranges(std::move(ranges), total_rows);
}

Manifest manifest_from_files(const std::vector<std::string>& files, const std::string& base_dir) {
  FID_CHECK(!files.empty(), "no embedding shard files given");
  Manifest m;
  m.base_dir = base_dir;
  std::string first_path;
  for (const auto& path : files) {
    ShardMeta meta = read_shard_meta(path);
    if (first_path.empty()) {
      first_path = path;
      m.dim = meta.dim;
      m.dtype = meta.dtype;
      m.model_fingerprint = meta.model_fingerprint;
      m.passages_fingerprint = meta.passages_fingerprint;
      m.shard_count = meta.shard_count;
    } else {
      ShardMeta first;
      first.dim = m.dim;
      first.dtype = m.dtype;
      first.model_fingerprint = m.model_fingerprint;
      first.passages_fingerprint = m.passages_fingerprint;
      first.shard_count = m.shard_count;
      check_same_run(first, first_path, meta, path);
    }
    m.shards.push_back({relative_to(path, base_dir), meta.shard_index, meta.rows, file_size(path)});
  }
  sort_and_check(m, "embedding shards");
  return m;
}

void write_manifest(const std::string& path, const Manifest& manifest) {
  nlohmann::json j;
  j["format"] = kManifestFormat;
  j["version"] = kManifestVersion;
  j["dim"] = manifest.dim;
  j["dtype"] = dtype_name(manifest.dtype);
  j["total_rows"] = manifest.total_rows;
  j["model_fingerprint"] = manifest.model_fingerprint;
  j["passages_fingerprint"] = manifest.passages_fingerprint;
  j["shard_count"] = manifest.shard_count;
  if (manifest.is_subset()) j["subset_of_rows"] = manifest.subset_of_rows;
  const std::string dir = parent_path(path);
  j["shards"] = nlohmann::json::array();
  for (const auto& s : manifest.shards) {
    std::string file = relative_to(manifest.shard_path(s), dir);
    j["shards"].push_back({{"file", file},
                           {"index", s.index},
                           {"row_begin", s.rows.begin},
                           {"row_end", s.rows.end},
                           {"rows", s.rows.size()},
                           {"bytes", s.bytes}});
  }
  write_json_atomic(path, j);
}

Manifest load_manifest(const std::string& path) {
  nlohmann::json j = read_json_file(path);
  auto field = [&](const char* name) -> const nlohmann::json& {
    FID_CHECK(j.contains(name), "manifest '", path, "' has no field '", name,
              "' (not written by fid embed-passages?)");
    return j.at(name);
  };
  FID_CHECK(j.is_object() && j.value("format", std::string()) == kManifestFormat, "'", path,
            "' is not an embeddings manifest (field 'format' must be '", kManifestFormat, "')");
  FID_CHECK(field("version").get<int64_t>() == kManifestVersion, "manifest '", path,
            "' has version ", field("version"), ", this build reads ", kManifestVersion,
            "; HINT: re-run embed-passages with this build");
  Manifest m;
  m.base_dir = parent_path(path);
  try {
    m.dim = field("dim").get<int64_t>();
    m.dtype = parse_dtype(field("dtype").get<std::string>());
    m.total_rows = field("total_rows").get<int64_t>();
    m.model_fingerprint = field("model_fingerprint").get<std::string>();
    m.passages_fingerprint = field("passages_fingerprint").get<std::string>();
    m.shard_count = field("shard_count").get<int>();
    m.subset_of_rows = j.value("subset_of_rows", int64_t{0});
    for (const auto& s : field("shards")) {
      m.shards.push_back({s.at("file").get<std::string>(), s.at("index").get<int>(),
                          {s.at("row_begin").get<int64_t>(), s.at("row_end").get<int64_t>()},
                          s.at("bytes").get<int64_t>()});
    }
  } catch (const nlohmann::json::exception& e) {
    FID_THROW("manifest '", path, "' has a malformed field: ", e.what());
  }
  FID_CHECK(m.subset_of_rows >= 0 && (!m.is_subset() || m.total_rows <= m.subset_of_rows),
            "manifest '", path, "': subset_of_rows ", m.subset_of_rows, " is below total_rows ",
            m.total_rows);
  const int64_t declared_total = m.total_rows;
  sort_and_check(m, "manifest '" + path + "'");
  FID_CHECK(m.total_rows == declared_total, "manifest '", path, "': shards reach row ",
            m.total_rows, " past total_rows ", declared_total);
  // Every listed file must be there, of the listed size, from the same run.
  for (const auto& s : m.shards) {
    const std::string file = m.shard_path(s);
    FID_CHECK(path_exists(file), "manifest '", path, "' lists '", file,
              "' which does not exist; re-run embed-passages or fix the manifest");
    FID_CHECK(file_size(file) == s.bytes, "manifest '", path, "' lists '", file, "' with ",
              s.bytes, " bytes but it has ", file_size(file),
              " bytes: the file changed after the manifest was written; re-run embed-passages");
    ShardMeta meta = read_shard_meta(file);
    FID_CHECK(meta.dim == m.dim && meta.dtype == m.dtype &&
                  meta.model_fingerprint == m.model_fingerprint &&
                  meta.passages_fingerprint == m.passages_fingerprint &&
                  meta.shard_index == s.index && meta.rows == s.rows,
              "embedding shard '", file, "' does not match its entry in manifest '", path,
              "' (dim, dtype, fingerprints, shard index or row range differ); re-run embed-passages");
  }
  return m;
}

std::vector<std::string> expand_glob(const std::string& pattern) {
  glob_t g{};
  int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  FID_CHECK(!out.empty(), "no file matches '", pattern, "'");
  std::sort(out.begin(), out.end());
  return out;
}

Manifest load_embeddings(const std::string& manifest_or_glob) {
  if (ends_with(manifest_or_glob, ".json")) return load_manifest(manifest_or_glob);
  std::vector<std::string> files;
  for (auto& f : expand_glob(manifest_or_glob)) {
    // Unfinished shards match "*.h5*" globs; they are never searched.
    if (ends_with(f, ".tmp")) {
      log::warn("skipping unfinished embedding shard '", f, "'");
      continue;
    }
    files.push_back(f);
  }
  Manifest m = manifest_from_files(files, "");
  if (static_cast<int>(m.shards.size()) != m.shard_count) {
    log::warn("'", manifest_or_glob, "' matches ", m.shards.size(), " of ", m.shard_count,
              " shards; only their passages can be retrieved");
  }
  return m;
}

}  // namespace fid::sharding
