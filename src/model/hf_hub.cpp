#include "model/hf_hub.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/files.h"

namespace fid::model {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// A hub id: "name" or "org/name" of letters, digits, '-', '_', '.'.
bool is_hub_id(const std::string& s) {
  if (s.empty() || s.front() == '/' || s.front() == '.' || s.back() == '/') return false;
  if (std::count(s.begin(), s.end(), '/') > 1) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

std::vector<std::string> hub_cache_dirs() {
  std::vector<std::string> dirs;
  if (!env("HF_HUB_CACHE").empty()) dirs.push_back(env("HF_HUB_CACHE"));
  if (!env("HF_HOME").empty()) dirs.push_back(join_path(env("HF_HOME"), "hub"));
  if (!env("TRANSFORMERS_CACHE").empty()) dirs.push_back(env("TRANSFORMERS_CACHE"));
  if (!env("XDG_CACHE_HOME").empty()) dirs.push_back(join_path(env("XDG_CACHE_HOME"), "huggingface/hub"));
  if (!env("HOME").empty()) dirs.push_back(join_path(env("HOME"), ".cache/huggingface/hub"));
  return dirs;
}

std::string resolve_model_dir(const std::string& name) {
  // A path that is not a hub name is left to the loader, whose error names the flag.
  if (name == "none" || is_directory(name) || !is_hub_id(name)) return name;
  std::string folder = "models--" + name;
  for (size_t p = folder.find('/'); p != std::string::npos; p = folder.find('/')) folder.replace(p, 1, "--");
  std::string looked;
  for (const auto& cache : hub_cache_dirs()) {
    const std::string repo = join_path(cache, folder);
    looked += "\n  " + repo;
    if (!is_directory(repo)) continue;
    // refs/main names the snapshot from_pretrained uses; a cache copied
    // without refs/ but holding one snapshot is unambiguous too.
    std::string snapshot;
    const std::string ref = join_path(repo, "refs/main");
    if (path_exists(ref)) {
      snapshot = join_path(repo, "snapshots/" + trim(read_file(ref)));
    } else if (is_directory(join_path(repo, "snapshots"))) {
      std::vector<std::string> all;
      for (const auto& e : std::filesystem::directory_iterator(join_path(repo, "snapshots")))
        if (e.is_directory()) all.push_back(e.path().string());
      FID_CHECK(all.size() == 1, repo, " has no refs/main and ", all.size(),
                " snapshots: say which with --model_path <snapshot directory>");
      snapshot = all[0];
    }
    FID_CHECK(path_exists(join_path(snapshot, "config.json")), "the Hugging Face cache entry ", repo,
              " points at snapshot '", snapshot, "', which has no config.json: the download is "
              "incomplete; download it again (huggingface-cli download ", name, ")");
    return snapshot;
  }
  FID_THROW("model '", name, "' is neither a directory nor in a Hugging Face cache; looked in:", looked,
            "\n(set HF_HUB_CACHE or HF_HOME to the cache, download it where there is network access "
            "with `huggingface-cli download ", name, "`, or give --model_path a directory)");
}

std::vector<std::string> sharded_weight_files(const std::string& dir, const std::string& weights,
                                              size_t* tensors) {
  const std::string index = join_path(dir, weights + ".index.json");
  if (!path_exists(index)) return {};
  const nlohmann::json j = read_json_file(index);
  FID_CHECK(j.contains("weight_map") && j["weight_map"].is_object() && !j["weight_map"].empty(), index,
            ": no weight_map (tensor name -> file); the index is damaged, download the model again");
  std::vector<std::string> files;
  std::set<std::string> seen;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    FID_CHECK(file.is_string(), index, ": weight_map['", tensor, "'] is not a file name");
    const std::string f = file.get<std::string>();
    FID_CHECK(f.find('/') == std::string::npos && f != "..", index, ": weight_map['", tensor,
              "'] names '", f, "', not a file beside the index");
    if (seen.insert(f).second) files.push_back(join_path(dir, f));
  }
  if (tensors) *tensors = j["weight_map"].size();
  return files;
}

}  // namespace fid::model
