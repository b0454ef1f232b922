// `fid train-retriever`: FiD's retriever distillation on the shared
// data-parallel loop. Each question's ctxs are sorted by their gold score
// (the reader's cross-attention score written by test-reader), the first
// n_context are encoded, and the bi-encoder is trained to match the gold
// distribution (KL divergence). Evaluation reports the seed's metrics
// (inversions, avg top-k, idx top-k for k in 1, 2, 5) and the eval loss
// averaged over the whole dev set (the seed reports its last batch's);
// best_dev is the lowest eval loss.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "dist/communicator.h"
#include "model/bert_config.h"
#include "train/train_loop.h"

namespace fid::train {

struct RetrieverTrainOptions {
  LoopOptions loop;
  std::string model_path = "none";
  std::string train_data, eval_data;
  int64_t n_context = 1;
  int64_t question_maxlength = 40;
  int64_t passage_maxlength = 200;
  double dropout = 0.1;
  // The seed replaces the projection head by a fresh 256-d one at every
  // start; here that happens only when asked: > 0 gives a new head of that size.
  int64_t reset_projection = 0;
  // Score every question against all passages of its batch on this rank
  // (RetrieverImpl::in_batch_kldivloss) instead of its own N only.
  bool in_batch_negatives = false;
  // Train only on questions whose top passage holds at least this share of
  // softmax(score) over the scored passages (top_score_share); 0 keeps all.
  double min_top_share = 0.0;
  uint64_t head_seed = 0;
  // FiD's architecture options: applied when the run starts from a BERT,
  // checked against a retriever's config otherwise.
  model::RetrieverArch arch;
  // Atlas's --temperature_score / --temperature_gold: set the distillation
  // loss temperatures (RetrieverConfig), recorded in the saved config.json;
  // unset keeps what the model records (1: FiD's loss).
  std::optional<double> temperature_score, temperature_gold;
  // --precision: autocast on the training device (fp16: CUDA only, loss-scaled).
  model::Precision precision = model::Precision::kFp32;
};

void train_retriever(dist::Communicator& comm, const RetrieverTrainOptions& options);

}  // namespace fid::train
