#include "support/hf_cache.h"

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "model/safetensors.h"
#include "support/test_util.h"

namespace fid::testing {
namespace {

// Puts `content` into blobs/ and links snapshots/<rev>/<name> to it.
void add_file(const std::string& repo, const std::string& rev, const std::string& name,
              const std::string& content) {
  const std::string blob_name = std::to_string(std::hash<std::string>{}(name + content));
  make_directories(join_path(repo, "blobs"));
  make_directories(join_path(repo, "snapshots/" + rev));
  write_text(join_path(repo, "blobs/" + blob_name), content);
  std::filesystem::create_symlink("../../blobs/" + blob_name, join_path(repo, "snapshots/" + rev + "/" + name));
}

}  // namespace

std::string add_to_hub_cache(const std::string& cache, const std::string& name, const std::string& src,
                             bool sharded) {
  std::string folder = "models--" + name;
  if (folder.find('/') != std::string::npos) folder.replace(folder.find('/'), 1, "--");
  const std::string repo = join_path(cache, folder), rev = "0123abcd";
  make_directories(join_path(repo, "refs"));
  write_text(join_path(repo, "refs/main"), rev);
  for (const auto& e : std::filesystem::directory_iterator(src)) {
    const std::string file = e.path().filename().string();
    if (!e.is_regular_file() || (sharded && file == "model.safetensors")) continue;
    add_file(repo, rev, file, read_file(e.path().string()));
  }
  if (sharded) {
    model::TensorMap all = model::read_safetensors(join_path(src, "model.safetensors")), first, second;
    nlohmann::json map;
    size_t i = 0;
    for (const auto& [k, t] : all) {
      const bool one = i++ % 2 == 0;
      (one ? first : second).emplace(k, t);
      map[k] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    }
    TempDir tmp;
    model::write_safetensors(tmp.file("a"), first);
    model::write_safetensors(tmp.file("b"), second);
    add_file(repo, rev, "model-00001-of-00002.safetensors", read_file(tmp.file("a")));
    add_file(repo, rev, "model-00002-of-00002.safetensors", read_file(tmp.file("b")));
    add_file(repo, rev, "model.safetensors.index.json",
             nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump());
  }
  return join_path(repo, "snapshots/" + rev);
}

}  // namespace fid::testing
