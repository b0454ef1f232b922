#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"

namespace fid::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStateJson = "trainer_state.json";
constexpr const char* kStateTensors = "trainer_state.pt";

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

// Every regular file under `dir` except the state JSON, relative paths.
nlohmann::json file_table(const std::string& dir) {
  nlohmann::json table = nlohmann::json::object();
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), dir).string();
    if (rel == kStateJson) continue;
    table[rel] = {{"bytes", static_cast<int64_t>(e.file_size())},
                  {"fnv64", hash_file(e.path().string())}};
  }
  return table;
}

}  // namespace

CheckpointManager::CheckpointManager(const std::string& checkpoint_dir, const std::string& name)
    : run_dir_(join_path(checkpoint_dir, name)),
      checkpoints_dir_(join_path(run_dir_, "checkpoint")) {}

std::string CheckpointManager::checkpoint_path(const std::string& tag) const {
  return join_path(checkpoints_dir_, tag);
}

std::string CheckpointManager::latest() const {
  std::string link = join_path(checkpoints_dir_, "latest");
  std::error_code ec;
  if (!fs::is_symlink(link, ec)) return "";
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return "";
  fs::path full = target.is_absolute() ? target : fs::path(checkpoints_dir_) / target;
  FID_CHECK(fs::is_directory(full), "'", link, "' points at '", full.string(),
            "', which does not exist: remove the link to start over, or restore the checkpoint");
  return full.string();
}

std::string CheckpointManager::save(const std::string& tag, const ModelWriter& write_model,
                                    torch::optim::Optimizer* optimizer,
                                    const nlohmann::json& state,
                                    const std::map<std::string, at::Tensor>& tensors,
                                    bool update_latest) {
  make_directories(checkpoints_dir_);
  const std::string final_dir = checkpoint_path(tag);
  const std::string tmp_dir = final_dir + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  make_directories(tmp_dir);

  write_model(tmp_dir);
  torch::serialize::OutputArchive archive;
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive opt_archive;
    optimizer->save(opt_archive);
    archive.write("optimizer", opt_archive);
  }
  for (const auto& [key, value] : tensors) archive.write(key, value, /*is_buffer=*/true);
  archive.save_to(join_path(tmp_dir, kStateTensors));
  for (auto& e : fs::recursive_directory_iterator(tmp_dir)) {
    if (e.is_regular_file()) fsync_path(e.path().string());
  }

  nlohmann::json full = state;
  full["format"] = kCheckpointFormat;
  full["version"] = kCheckpointVersion;
  full["has_optimizer"] = optimizer != nullptr;
  full["files"] = file_table(tmp_dir);
  write_json_atomic(join_path(tmp_dir, kStateJson), full);

  // Replace an older checkpoint of the same tag (best_dev) only once the new
  // one is complete; the old one is moved aside first so a crash leaves one.
  if (fs::exists(final_dir)) {
    std::string old = final_dir + ".old." + std::to_string(::getpid());
    rename_durable(final_dir, old);
    rename_durable(tmp_dir, final_dir);
    fs::remove_all(old, ec);
  } else {
    rename_durable(tmp_dir, final_dir);
  }
  if (update_latest) {
    std::string link = join_path(checkpoints_dir_, "latest");
    std::string tmp_link = link + ".tmp." + std::to_string(::getpid());
    fs::remove(tmp_link, ec);
    fs::create_symlink(tag, tmp_link);
    rename_durable(tmp_link, link);
  }
  return final_dir;
}

LoadedCheckpoint open_checkpoint(const std::string& dir, torch::optim::Optimizer* optimizer) {
  const std::string json_path = join_path(dir, kStateJson);
  FID_CHECK(path_exists(json_path), "checkpoint '", dir, "' has no ", kStateJson,
            ": it is incomplete or not a checkpoint written by fid");
  nlohmann::json state = read_json_file(json_path);
  FID_CHECK(state.value("format", "") == kCheckpointFormat, "'", json_path,
            "' is not a fid checkpoint state (format field)");
  FID_CHECK(state.value("version", 0) == kCheckpointVersion, "'", json_path, "' has version ",
            state.value("version", 0), ", this build reads version ", kCheckpointVersion,
            ". HINT: resume with the fid version that wrote it");
  for (const auto& [rel, info] : state.at("files").items()) {
    const std::string path = join_path(dir, rel);
    FID_CHECK(path_exists(path), "checkpoint file '", path, "' is missing");
    const int64_t bytes = file_size(path);
    FID_CHECK(bytes == info.at("bytes").get<int64_t>(), "checkpoint file '", path, "' has ",
              bytes, " bytes, expected ", info.at("bytes").get<int64_t>(),
              ": it is truncated or was modified");
    FID_CHECK(hash_file(path) == info.at("fnv64").get<std::string>(), "checkpoint file '", path,
              "' is corrupted (content hash differs from the one recorded when it was written)");
  }
  LoadedCheckpoint out;
  out.dir = dir;
  torch::serialize::InputArchive archive;
  const std::string tensors_path = join_path(dir, kStateTensors);
  try {
    archive.load_from(tensors_path);
    if (optimizer != nullptr) {
      FID_CHECK(state.value("has_optimizer", false), "checkpoint '", dir,
                "' holds no optimizer state");
      torch::serialize::InputArchive opt_archive;
      archive.read("optimizer", opt_archive);
      optimizer->load(opt_archive);
    }
    for (const auto& key : archive.keys()) {
      if (key == "optimizer") continue;
      at::Tensor t;
      if (archive.try_read(key, t, /*is_buffer=*/true)) out.tensors[key] = t;
    }
  } catch (const c10::Error& e) {
    FID_THROW("cannot read '", tensors_path, "': ", e.what_without_backtrace());
  }
  state.erase("files");
  out.state = state;
  return out;
}

at::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace fid::train
