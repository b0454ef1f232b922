// Training checkpoints: checkpoint_dir/name/checkpoint/{step-N,best_dev}, each
// a model directory (written by the caller) plus trainer_state.pt (optimizer,
// RNG and other tensors) and trainer_state.json (step, metric, options, data
// position, and the size and hash of every file). A checkpoint is written under
// a temporary name and renamed when complete; `latest` is a symlink replaced
// atomically. Opening verifies every file so a truncated or corrupted
// checkpoint is refused with the file named.
#pragma once
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include <torch/optim/optimizer.h>

namespace fid::train {

constexpr const char* kCheckpointFormat = "fid-checkpoint";
constexpr int kCheckpointVersion = 1;

using ModelWriter = std::function<void(const std::string& dir)>;

class CheckpointManager {
 public:
  CheckpointManager(const std::string& checkpoint_dir, const std::string& name);
  const std::string& run_dir() const { return run_dir_; }
  std::string checkpoint_path(const std::string& tag) const;
  // The directory `latest` points at, or "" when there is none.
  std::string latest() const;
  // Writes `tag` atomically and returns its final path. Call on one rank only.
  std::string save(const std::string& tag, const ModelWriter& write_model,
                   torch::optim::Optimizer* optimizer, const nlohmann::json& state,
                   const std::map<std::string, at::Tensor>& tensors, bool update_latest);

 private:
  std::string run_dir_;
  std::string checkpoints_dir_;
};

struct LoadedCheckpoint {
  std::string dir;
  nlohmann::json state;  // trainer_state.json without the file table
  std::map<std::string, at::Tensor> tensors;
};

// Verifies format, version and every file's size and hash; reads the tensors.
// Loads the optimizer state when `optimizer` is given.
LoadedCheckpoint open_checkpoint(const std::string& dir, torch::optim::Optimizer* optimizer);

// The default CPU generator's state (dropout, sampling), to save and restore.
at::Tensor cpu_rng_state();
void set_cpu_rng_state(const at::Tensor& state);

}  // namespace fid::train
