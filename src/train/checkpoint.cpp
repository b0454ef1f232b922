#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/file_table.h"
#include "common/files.h"
#include "common/log.h"

namespace fid::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStateJson = kCheckpointStateFile;
constexpr const char* kStateTensors = kCheckpointTensorsFile;

// LibTorch's own file writer throws from its destructor when a write fails
// (a full disk: std::terminate, SIGABRT). This sink never fails inside the
// archive; it keeps the first error and reports it once the archive is done.
void save_archive(torch::serialize::OutputArchive& archive, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  FID_CHECK(f != nullptr, "cannot create '", path, "': ", std::strerror(errno));
  int err = 0;
  archive.save_to([&](const void* data, size_t n) -> size_t {
    if (err == 0 && n > 0 && std::fwrite(data, 1, n, f) != n) err = errno != 0 ? errno : EIO;
    return n;
  });
  if (std::fflush(f) != 0 && err == 0) err = errno;
  if (std::fclose(f) != 0 && err == 0) err = errno;
  FID_CHECK(err == 0, "cannot write '", path, "': ", std::strerror(err),
            err == ENOSPC ? " (the disk is full: free space and run the same command again; it "
                            "resumes from the last complete checkpoint)"
                          : "");
}

// "<tag>.tmp.<pid>" or "<tag>.old.<pid>" (a checkpoint being written or
// replaced) whose process is gone: a writer that died (a kill, a full disk)
// left it, and nothing else will remove it.
bool dead_writers_leftover(const std::string& name) {
  for (const char* mark : {".tmp.", ".old."}) {
    const size_t at = name.rfind(mark);
    if (at == std::string::npos) continue;
    const std::string pid = name.substr(at + std::strlen(mark));
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    return ::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH;
  }
  return false;
}

void remove_dead_writers_leftovers(const std::string& dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    // A ".old" whose checkpoint was never put back is the only copy: keep it.
    if (name.find(".old.") != std::string::npos &&
        !fs::exists(fs::path(dir) / name.substr(0, name.rfind(".old.")))) {
      continue;
    }
    if (!dead_writers_leftover(name)) continue;
    fs::remove_all(e.path(), ec);
    log::info("removed '", e.path().string(), "', left by a checkpoint writer that died");
  }
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
  remove_dead_writers_leftovers(checkpoints_dir_);
  const std::string final_dir = checkpoint_path(tag);
  const std::string tmp_dir = final_dir + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  make_directories(tmp_dir);
  try {
    write_model(tmp_dir);
    torch::serialize::OutputArchive archive;
    if (optimizer != nullptr) {
      torch::serialize::OutputArchive opt_archive;
      optimizer->save(opt_archive);
      archive.write("optimizer", opt_archive);
    }
    for (const auto& [key, value] : tensors) archive.write(key, value, /*is_buffer=*/true);
    save_archive(archive, join_path(tmp_dir, kStateTensors));
    for (auto& e : fs::recursive_directory_iterator(tmp_dir)) {
      if (e.is_regular_file()) fsync_path(e.path().string());
    }
    nlohmann::json full = state;
    full["format"] = kCheckpointFormat;
    full["version"] = kCheckpointVersion;
    full["has_optimizer"] = optimizer != nullptr;
    full["files"] = make_file_table(tmp_dir, {kStateJson});
    write_json_atomic(join_path(tmp_dir, kStateJson), full);
  } catch (...) {
    // An incomplete checkpoint is never left behind: it would hold the space
    // a rerun needs, and it is no checkpoint.
    fs::remove_all(tmp_dir, ec);
    throw;
  }

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
  verify_file_table(dir, state.at("files"));
  LoadedCheckpoint out;
  out.dir = dir;
  torch::serialize::InputArchive archive;
  const std::string tensors_path = join_path(dir, kStateTensors);
  try {
    // Onto the CPU whatever device saved it: the optimizer moves its state
    // to its parameters' device at its first step (train/fused_adam.cpp).
    archive.load_from(tensors_path, at::Device(at::kCPU));
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
