// `fid pretrain-reader`: T5's span-corruption objective on the passages, on
// the shared data-parallel loop, as an unsupervised warm start for FiD
// readers (text/span_corruption.h says why). Each step's batch is a set of
// passages formatted as the reader sees them ("title: <t> context: <p>"),
// corrupted with a seed that depends on the step and the passage only, so
// a rerun resumes exactly. The result is a T5 model directory that
// `train-reader --model_path` starts from.
#pragma once
#include <cstdint>
#include <string>

#include "dist/communicator.h"
#include "model/autocast.h"
#include "text/span_corruption.h"
#include "train/train_loop.h"

namespace fid::train {

struct ReaderPretrainOptions {
  LoopOptions loop;
  std::string model_path = "none";
  std::string passages;        // DPR TSV
  int64_t text_maxlength = 200;  // tokens of a passage before corruption
  text::SpanCorruptionOptions spans;
  double dropout = 0.1;
  model::Precision precision = model::Precision::kFp32;
};

void pretrain_reader(dist::Communicator& comm, const ReaderPretrainOptions& options);

}  // namespace fid::train
