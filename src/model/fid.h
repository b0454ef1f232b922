// Fusion-in-Decoder on top of T5: passages (B, N, L) are encoded
// independently as (B*N, L), concatenated to (B, N*L, d_model), and the
// decoder attends over all of them. Also greedy generation with a key/value
// cache and FiD's cross-attention passage scores.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>

#include "model/t5.h"

namespace fid::model {

struct FidOutput {
  at::Tensor loss;         // () mean cross-entropy over labels != -100 (undefined without labels)
  at::Tensor logits;       // (B, T, vocab)
  at::Tensor encoder_out;  // (B, N*L, d_model)
};

struct FidGeneration {
  at::Tensor ids;  // (B, T') int64, starting with decoder_start_token_id
  // FiD's --write_crossattention_scores: (B, N), from the first decoding step.
  at::Tensor crossattention_scores;
  // What FiD's score storage holds: per layer the pre-softmax scores q·k +
  // bias + mask of the first step, (n_layers, B, H, N*L).
  at::Tensor score_storage;
  // The passages as the encoder gave them, (B, N*L, d_model): each passage is
  // encoded on its own, so per-passage scores reuse it (answer_log_likelihood).
  at::Tensor encoder_out;
};

// labels (B, T) with -100 -> decoder inputs: start token prepended, last
// label dropped, -100 replaced by pad.
at::Tensor shift_right(const at::Tensor& labels, int64_t start_token, int64_t pad_token);

// FiD's get_crossattention_scores: storage (n_layers, B, H, N*L), passage_mask
// (B, N, L) -> (B, N): masked sum over heads, layers and tokens divided by
// tokens x layers x heads.
at::Tensor crossattention_scores(const at::Tensor& storage, const at::Tensor& passage_mask);

// The share of the first step's cross-attention each passage receives
// (attention probabilities summed over its tokens, averaged over heads and
// layers), as its log: (B, N), softmax over N gives the shares back. The
// seed's mean pre-softmax logit above is dominated by the many tokens that
// draw no attention; the mass counts only where the reader looked.
at::Tensor crossattention_log_mass(const at::Tensor& storage, const at::Tensor& passage_mask);

class FidReader;

// Atlas's perplexity-distillation score: the mean log-likelihood of the
// target tokens when the reader sees each passage alone. encoder_out
// (B, N*L, d_model) from FidReader::encode (or a generation's), passage_mask
// (B, N, L), labels (B, T) with -100 at padding -> (B, N). FiD encodes every
// passage on its own, so only the decoder runs again, once per passage. It asks which
// passage lets the reader produce the answer, which a reader that reads but
// cannot yet choose among passages already knows; the attention scores
// above only point at the gold passage once the reader has learnt to choose.
at::Tensor answer_log_likelihood(FidReader& reader, const at::Tensor& encoder_out,
                                 const at::Tensor& passage_mask, const at::Tensor& labels);

class FidReader {
 public:
  explicit FidReader(std::shared_ptr<T5Model> t5) : t5_(std::move(t5)) {}
  T5Model& t5() { return *t5_; }
  std::shared_ptr<T5Model> t5_ptr() { return t5_; }

  // passage_ids/mask (B, N, L) -> (B, N*L, d_model) and the mask (B, N*L).
  at::Tensor encode(const at::Tensor& passage_ids, const at::Tensor& passage_mask);
  // Teacher-forced forward. labels (B, T) with -100 for padding; the decoder
  // input is shift_right(labels) unless decoder_ids is given.
  // Teacher-forced decoder logits over encoded passages: encoder_out (B, S, d),
  // mask (B, S), labels (B, T) -> (B, T, vocab).
  at::Tensor decode_logits(const at::Tensor& encoder_out, const at::Tensor& mask,
                           const at::Tensor& labels, const at::Tensor& decoder_ids = {});
  FidOutput forward(const at::Tensor& passage_ids, const at::Tensor& passage_mask,
                    const at::Tensor& labels, const at::Tensor& decoder_ids = {});
  // Greedy, batched: rows that emit eos continue with pad; stops when every
  // row has finished or after max_length positions (start token included).
  // EOS is refused while fewer than min_length positions are decoded.
  // Beam search: model/beam_search.h.
  FidGeneration generate(const at::Tensor& passage_ids, const at::Tensor& passage_mask,
                         int64_t max_length, bool with_scores = true, int64_t min_length = 0);

 private:
  std::shared_ptr<T5Model> t5_;
};

}  // namespace fid::model
