// The data-parallel training loop shared by train-reader and
// train-retriever, with the seed's step semantics (a step is one micro-batch;
// the optimizer steps every accumulation_steps steps; eval_freq and save_freq
// count steps) and these guarantees:
// - every step's global batch (ranks x per-rank batch) comes from one
//   permutation of the training set shared by all ranks (DataOrder), and the
//   loss is the weighted mean over the whole global batch (accumulation
//   included), so W ranks with batch b compute what one rank with W*b does;
// - gradients are summed over ranks in flat buckets, then clipped;
// - metrics are averaged over ranks and correct on every rank;
// - checkpoints hold the model, optimizer, schedule, step and every rank's
//   RNG, so a rerun of the same command resumes exactly.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include <torch/nn/module.h>

#include <c10/core/Device.h>

#include "data/example.h"
#include "model/autocast.h"
#include "dist/communicator.h"
#include "train/loss_scaler.h"
#include "train/optim.h"
#include "train/schedule.h"

namespace fid::train {

struct LoopOptions {
  std::string name = "experiment_name";
  std::string checkpoint_dir = "./checkpoint/";
  int64_t per_gpu_batch_size = 1;
  int64_t seed = 0;
  int64_t eval_freq = 500;
  int64_t save_freq = 5000;
  int64_t accumulation_steps = 1;
  int64_t log_freq = 1;  // optimizer steps between metrics.jsonl records
  ScheduleOptions schedule;
  OptimOptions optim;
  LossScalerOptions loss_scaling;  // on for --precision fp16
  std::string device = "auto";     // --device (runtime/placement.h)
  // The options the command line gave ("--lr" -> "2e-3"). Checkpoints record
  // them; a resumed run must give the same ones, but for those that cannot
  // change the trajectory (kResumeFreeOptions) and those in allowed_changes
  // (seed names without dashes, or "all").
  std::map<std::string, std::string> command_line;
  std::vector<std::string> allowed_changes;
};

// Options a resumed run may change freely: where and how often it reports.
extern const char* const kResumeFreeOptions[];

// Throws, listing every difference, when `recorded` (a checkpoint's
// command_line) and `current` differ outside the free and allowed options.
void check_resume_options(const std::map<std::string, std::string>& recorded,
                          const std::map<std::string, std::string>& current,
                          const std::vector<std::string>& allowed_changes, const std::string& checkpoint);

// What a model contributes to the loop.
class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual torch::nn::Module& module() = 0;
  virtual int64_t num_examples() const = 0;
  // Collates this rank's micro-batch (examples `indices`) into slot `slot`
  // and returns its loss weight (label tokens, scored elements, ...).
  virtual double prepare(int slot, const std::vector<int64_t>& indices, int64_t step) = 0;
  // The mean loss of the micro-batch in `slot` (over its weight).
  virtual at::Tensor loss(int slot) = 0;
  // Dev metrics (every rank gets the same values) and the one that selects
  // best_dev; empty when there is no dev set.
  virtual std::map<std::string, double> evaluate(dist::Communicator& comm) = 0;
  virtual std::string selection_metric() const = 0;
  virtual bool higher_is_better() const = 0;
  // Writes the model directory (config, weights, tokenizer).
  virtual void save_model(const std::string& dir) = 0;
};

// Where a run starts: `latest` of an existing run (resume; the same on
// every rank), else `model_path`.
struct StartPoint {
  std::string model_dir;
  bool resume = false;
};
StartPoint start_point(dist::Communicator& comm, const LoopOptions& options,
                       const std::string& model_path);

void run_training(dist::Communicator& comm, TrainTask& task, const LoopOptions& options,
                  const StartPoint& start);

// Reads every example of `path` that this rank owns (i % W == r) before the
// first step, with `check` for the trainer's own requirements: a malformed
// example fails the run at start-up, naming the file and the example,
// instead of at the step that reaches it (or, in --eval_data, after all the
// training). A rank that finds one throws; the job is aborted.
void check_every_example(dist::Communicator& comm, const std::string& path, const data::ReaderOptions& options,
                         const std::function<void(const data::Example&)>& check);

// This rank's training device (--device), checked against the precision;
// turns loss scaling on for fp16.
c10::Device training_device(dist::Communicator& comm, LoopOptions& options, model::Precision precision);

// --train_data must exist; --eval_data, when given, too. --n_context > 0.
void check_training_inputs(const std::string& train_data, const std::string& eval_data,
                           int64_t n_context);

}  // namespace fid::train
