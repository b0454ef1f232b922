// FiD's retriever (facebookresearch/FiD src/model.py Retriever): a BERT
// bi-encoder with an optional projection + LayerNorm head, scored by a scaled
// dot product and trained with a KL divergence towards the reader's scores.
// Parameters: model.* (BERT), proj.weight/bias and norm.weight/bias.
#pragma once
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "model/bert.h"
#include "model/bert_config.h"

namespace fid::model {

struct RetrieverOutputs {
  at::Tensor question_output;  // (B, D)
  at::Tensor passage_output;   // (B*N, D)
  at::Tensor score;            // (B, N)
  at::Tensor loss;             // () ; undefined without gold scores
};

class RetrieverImpl : public torch::nn::Module {
 public:
  explicit RetrieverImpl(const RetrieverConfig& config);

  // question_ids/mask (B, Lq); passage_ids/mask (B, N, Lp); gold_score (B, N) or undefined.
  RetrieverOutputs forward(const at::Tensor& question_ids, const at::Tensor& question_mask,
                           const at::Tensor& passage_ids, const at::Tensor& passage_mask,
                           const at::Tensor& gold_score = {});
  // ids/mask (B, L) -> (B, D). BERT sees the mask only when apply_mask is set
  // (FiD's behaviour: otherwise padding tokens are attended and averaged).
  at::Tensor embed_text(const at::Tensor& ids, const at::Tensor& mask, bool apply_mask,
                        bool extract_cls);
  at::Tensor embed_questions(const at::Tensor& ids, const at::Tensor& mask) {
    return embed_text(ids, mask, config_.apply_question_mask, config_.extract_cls);
  }
  at::Tensor embed_passages(const at::Tensor& ids, const at::Tensor& mask) {
    return embed_text(ids, mask, config_.apply_passage_mask, config_.extract_cls);
  }
  // score (B, N) = einsum('bd,bid->bi', q, p) / sqrt(D)
  static at::Tensor score(const at::Tensor& question_output, const at::Tensor& passage_output,
                          int64_t n_passages);
  // FiD's kldivloss: KLDivLoss(mean over all B*N elements) of log_softmax(score / Ts)
  // against softmax(gold / Tg).
  at::Tensor kldivloss(const at::Tensor& score, const at::Tensor& gold_score) const;
  // The same KL with in-batch negatives: each question is scored against all
  // B*N passages of the batch, (B, B*N), and the target puts the reader's
  // distribution on its own N passages and 0 on the others. Normalised over
  // B*N like kldivloss, which it equals for B = 1. question_output (B, D),
  // passage_output (B*N, D), gold_score (B, N). Reader scores rank only the
  // passages a question retrieved; the other questions' passages teach the
  // retriever to push the rest of the corpus away.
  at::Tensor in_batch_kldivloss(const at::Tensor& question_output,
                                const at::Tensor& passage_output,
                                const at::Tensor& gold_score) const;

  const RetrieverConfig& config() const { return config_; }
  RetrieverConfig& mutable_config() { return config_; }

  BertModel model{nullptr};
  torch::nn::Linear proj{nullptr};     // (D, H); only with projection
  torch::nn::LayerNorm norm{nullptr};  // (D), eps 1e-5; only with projection

 private:
  // softmax(gold / Tg) over the last dimension, computed in `dtype`.
  at::Tensor gold_distribution(const at::Tensor& gold_score, at::ScalarType dtype) const;
  // KLDivLoss's pointwise terms of log_softmax(score / Ts) against `target`.
  at::Tensor kl_terms(const at::Tensor& score, const at::Tensor& target) const;

  RetrieverConfig config_;
};
TORCH_MODULE(Retriever);

// Random initialisation as FiD's Retriever(config): BERT as HF's init,
// proj as torch.nn.Linear's default, norm weight 1 and bias 0.
void init_retriever_weights(RetrieverImpl& retriever, uint64_t seed);

}  // namespace fid::model
