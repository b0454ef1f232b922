// `fid train-reader`: data-parallel FiD reader training with the seed's
// options and step semantics (a step is one micro-batch; the optimizer steps
// every accumulation_steps steps; eval_freq and save_freq count steps).
//
// Where we differ from the seed, on purpose:
// - Every step's global batch (W ranks x per-rank batch) is drawn from one
//   permutation of the training set shared by all ranks, and the loss is the
//   mean over every label token of the global batch (accumulation included),
//   so W ranks with batch b compute exactly what one rank with batch W*b
//   computes. (The seed samples each rank independently and averages per-rank
//   means.)
// - Metrics are averaged over ranks and correct on every rank.
// - A run resumes exactly: model, optimizer, schedule, step, every rank's RNG,
//   and the position in the data.
#pragma once
#include <cstdint>
#include <string>

#include "dist/communicator.h"
#include "train/optim.h"
#include "train/reader_eval.h"
#include "train/schedule.h"

namespace fid::train {

struct ReaderTrainOptions {
  std::string name = "experiment_name";
  std::string checkpoint_dir = "./checkpoint/";
  std::string model_path = "none";
  std::string train_data, eval_data;
  int64_t per_gpu_batch_size = 1;
  int64_t seed = 0;
  int64_t eval_freq = 500;
  int64_t save_freq = 5000;
  int64_t eval_print_freq = 1000;
  int64_t accumulation_steps = 1;
  int64_t max_eval_examples = -1;
  int64_t log_freq = 1;  // steps between metrics.jsonl records
  bool use_checkpoint = false;
  double dropout = 0.1;
  ReaderInputOptions input;
  ScheduleOptions schedule;
  OptimOptions optim;
};

void train_reader(dist::Communicator& comm, const ReaderTrainOptions& options);

}  // namespace fid::train
