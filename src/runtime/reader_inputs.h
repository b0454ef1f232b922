// What training and evaluating a reader share: a reader model with its tokenizer
// loaded from a model directory, and FiD examples turned into model tensors
// the way the seed's Dataset and Collator do it.
#pragma once
#include <c10/core/Device.h>
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/example.h"
#include "model/fid.h"
#include "text/t5_tokenizer.h"

namespace fid::runtime {

struct LoadedReader {
  std::shared_ptr<model::T5Model> t5;
  text::T5Tokenizer tokenizer;
  std::string dir;
  std::string tokenizer_file;  // spiece.model, copied into checkpoints
};

// Loads config.json, the weights and spiece.model of `dir`; `dropout`
// overrides the config's dropout_rate (the seed's --dropout).
LoadedReader load_reader(const std::string& dir, std::optional<double> dropout = std::nullopt);

struct ReaderInputOptions {
  int64_t n_context = 1;
  int64_t text_maxlength = 200;
  int64_t answer_maxlength = -1;
  bool no_title = false;  // the seed's --no_title: passages without their title
  bool with_targets = true;
};

struct ReaderBatch {
  at::Tensor passage_ids;   // (B, N, L) int64
  at::Tensor passage_mask;  // (B, N, L) int64 0/1
  at::Tensor labels;        // (B, T) int64, -100 at padding (undefined without targets)
  int64_t label_tokens = 0;  // labels != -100
};

// Moves the batch's tensors to `device` (no copy when they are there).
void move_to(ReaderBatch& batch, const c10::Device& device);

// `targets[k]` is the unformatted target of examples[k] (the example's
// `target`, else one of its answers chosen by the caller).
ReaderBatch make_reader_batch(const text::T5Tokenizer& tokenizer,
                              const std::vector<const data::Example*>& examples,
                              const std::vector<std::string>& targets,
                              const ReaderInputOptions& options);

// The target the seed trains on: `target` when present, else an answer chosen
// with `choice` (the seed picks one at random).
std::string training_target(const data::Example& ex, uint64_t choice);

}  // namespace fid::runtime
