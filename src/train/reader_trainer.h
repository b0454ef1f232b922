// `fid train-reader`: FiD reader training on the shared data-parallel loop
// (train_loop.h says where it differs from the seed, on purpose).
#pragma once
#include <cstdint>
#include <string>

#include "dist/communicator.h"
#include "runtime/reader_eval.h"
#include "train/train_loop.h"

namespace fid::train {

struct ReaderTrainOptions {
  LoopOptions loop;
  std::string model_path = "none";
  std::string train_data, eval_data;
  int64_t max_eval_examples = -1;
  int64_t eval_print_freq = 1000;
  model::GenerationOptions generation;  // of the evaluation's answers
  bool use_checkpoint = false;
  double dropout = 0.1;
  model::Precision precision = model::Precision::kFp32;  // --precision: bf16 autocast (forward; backward follows it)
  runtime::ReaderInputOptions input;
  // Train on the passages that contain an answer first (answer_passages_first).
  bool answer_passages_first = false;
};

void train_reader(dist::Communicator& comm, const ReaderTrainOptions& options);

}  // namespace fid::train
