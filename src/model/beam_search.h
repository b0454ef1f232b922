// Beam search over the FiD reader, as transformers' generate(num_beams > 1)
// does it (FiD issue #39, Atlas's --generation_num_beams): log-softmax scores
// summed along each beam, the top 2*num_beams candidates of an example
// visited in order, an EOS among the first num_beams closing a hypothesis,
// hypotheses scored sum_logprobs / length ** length_penalty. The version
// rules differ in two places (T5Convention): the length the done test
// divides by, and 3.0.2 returning hypotheses of equal length without EOS.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "model/fid.h"

namespace fid::model {

struct GenerationOptions {
  int64_t max_length = 50;  // positions, the start token included
  int64_t min_length = 0;   // EOS is refused while fewer positions are decoded
  int64_t num_beams = 1;    // 1: greedy (FidReader::generate)
  double length_penalty = 1.0;
  bool early_stopping = false;
  int64_t num_return_sequences = 1;  // per example, best first; at most num_beams
};

// One returned hypothesis.
struct Hypothesis {
  std::vector<int64_t> tokens;        // start token first, EOS excluded
  double score = 0;                   // sum_logprobs / tokens.size() ** length_penalty
  double sum_logprobs = 0;            // float32 running score it was closed with
  std::vector<int64_t> beam_indices;  // per generated token (EOS included): example*num_beams + beam
};

struct BeamSearchResult {
  // (B * num_return_sequences, T'): example-major rows, laid out as the
  // model's transformers version returns them (EOS after a short row, pad after).
  at::Tensor ids;
  std::vector<Hypothesis> hypotheses;  // the rows of `ids`, in the same order
  int64_t decoder_steps = 0;           // decoder calls made
};

// passage_ids/mask (B, N, L); encoder_out (B, N*L, d) when the caller has
// already encoded them (FidGeneration::encoder_out), else they are encoded
// here. Checks the options first (check_generation_options).
BeamSearchResult beam_search(FidReader& reader, const at::Tensor& passage_ids,
                             const at::Tensor& passage_mask, const GenerationOptions& options,
                             const at::Tensor& encoder_out = {});

// num_return_sequences <= num_beams, lengths: an error naming the option.
void check_generation_options(const GenerationOptions& options);

}  // namespace fid::model
