// FiD retriever forward pass and distillation loss.
#include "model/retriever.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "common/error.h"

namespace fid::model {
namespace nn = torch::nn;

RetrieverImpl::RetrieverImpl(const RetrieverConfig& config) : config_(config) {
  model = register_module("model", BertModel(config.bert));
  if (config.projection) {
    proj = register_module("proj", nn::Linear(config.bert.hidden_size, config.indexing_dimension));
    // torch.nn.LayerNorm's default eps, not the BERT config's.
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({config.indexing_dimension})
                                                     .eps(1e-5)));
  }
}

at::Tensor RetrieverImpl::embed_text(const at::Tensor& ids, const at::Tensor& mask,
                                     bool apply_mask, bool extract_cls) {
  FID_CHECK(ids.dim() == 2, "retriever input ids must be (batch, length), got ", ids.sizes());
  // The pooler is part of the checkpoint but FiD never uses its output.
  at::Tensor h = model->forward(ids, apply_mask ? mask : at::Tensor(), {}, /*with_pooler=*/false)
                     .last_hidden_state;  // (B, L, H)
  if (config_.projection) h = bert_layer_norm(norm, bert_linear(h, proj));  // (B, L, D)
  if (extract_cls) return h.select(1, 0);    // (B, D)
  if (apply_mask) {
    FID_CHECK(mask.defined() && mask.sizes() == ids.sizes(), "retriever mask ",
              mask.defined() ? mask.sizes() : at::IntArrayRef{}, " does not match ids ", ids.sizes());
    at::Tensor keep = mask.to(at::kBool).unsqueeze(-1);         // (B, L, 1)
    at::Tensor sum = h.masked_fill(keep.logical_not(), 0.0).sum(1);  // (B, D)
    at::Tensor count = mask.to(h.scalar_type()).sum(1, /*keepdim=*/true);  // (B, 1)
    return sum / count;
  }
  return h.mean(1);
}

at::Tensor RetrieverImpl::score(const at::Tensor& question_output,
                                const at::Tensor& passage_output, int64_t n_passages) {
  const int64_t b = question_output.size(0), d = question_output.size(1);
  FID_CHECK(passage_output.size(0) == b * n_passages && passage_output.size(1) == d,
            "passage embeddings ", passage_output.sizes(), " do not match ", b, " questions x ",
            n_passages, " passages of dim ", d);
  at::Tensor p = passage_output.view({b, n_passages, d});            // (B, N, D)
  at::Tensor s = at::bmm(p, question_output.unsqueeze(-1)).squeeze(-1);  // (B, N)
  return s / std::sqrt(static_cast<double>(d));
}

at::Tensor RetrieverImpl::gold_distribution(const at::Tensor& gold_score,
                                            at::ScalarType dtype) const {
  at::Tensor gold = gold_score.to(dtype);
  if (config_.gold_temperature != 1.0) gold = gold / config_.gold_temperature;
  return at::softmax(gold, -1);
}

at::Tensor RetrieverImpl::kl_terms(const at::Tensor& score, const at::Tensor& target) const {
  at::Tensor s = config_.score_temperature != 1.0 ? score / config_.score_temperature : score;
  // torch's KLDivLoss pointwise: target * (log target - input), 0 where target is 0.
  return at::xlogy(target, target) - target * at::log_softmax(s, -1);
}

at::Tensor RetrieverImpl::kldivloss(const at::Tensor& score, const at::Tensor& gold_score) const {
  FID_CHECK(score.sizes() == gold_score.sizes(), "gold scores ", gold_score.sizes(),
            " do not match retriever scores ", score.sizes());
  // Reduction 'mean': averaged over every element (FiD's choice, not 'batchmean').
  return kl_terms(score, gold_distribution(gold_score, score.scalar_type())).mean();
}

at::Tensor RetrieverImpl::in_batch_kldivloss(const at::Tensor& question_output,
                                             const at::Tensor& passage_output,
                                             const at::Tensor& gold_score) const {
  const int64_t b = gold_score.size(0), n = gold_score.size(1), d = question_output.size(1);
  FID_CHECK(question_output.size(0) == b && passage_output.size(0) == b * n &&
                passage_output.size(1) == d,
            "in-batch loss: questions ", question_output.sizes(), ", passages ",
            passage_output.sizes(), " and gold scores ", gold_score.sizes(), " do not match");
  at::Tensor all = at::mm(question_output, passage_output.t()) / std::sqrt(static_cast<double>(d));  // (B, B*N)
  // Question i's own passages are columns i*N .. i*N+N-1; the others get 0.
  at::Tensor own = at::eye(b, all.options()).repeat_interleave(n, 1);                  // (B, B*N)
  at::Tensor target = gold_distribution(gold_score, all.scalar_type()).repeat({1, b}) * own;
  return kl_terms(all, target).sum() / static_cast<double>(b * n);
}

RetrieverOutputs RetrieverImpl::forward(const at::Tensor& question_ids,
                                        const at::Tensor& question_mask,
                                        const at::Tensor& passage_ids,
                                        const at::Tensor& passage_mask,
                                        const at::Tensor& gold_score) {
  FID_CHECK(passage_ids.dim() == 3, "passage ids must be (batch, n_passages, length), got ",
            passage_ids.sizes());
  const int64_t b = passage_ids.size(0), n = passage_ids.size(1), len = passage_ids.size(2);
  RetrieverOutputs out;
  out.question_output = embed_questions(question_ids, question_mask);
  out.passage_output = embed_passages(passage_ids.reshape({b * n, len}),
                                      passage_mask.defined() ? passage_mask.reshape({b * n, len})
                                                             : at::Tensor());
  out.score = score(out.question_output, out.passage_output, n);
  if (gold_score.defined()) out.loss = kldivloss(out.score, gold_score);
  return out;
}

void init_retriever_weights(RetrieverImpl& retriever, uint64_t seed) {
  init_bert_weights(*retriever.model, seed);
  if (!retriever.config().projection) return;
  // torch.nn.Linear's reset_parameters (kaiming uniform a=sqrt(5), bias U(+-1/sqrt(fan_in))),
  // drawn from a generator of its own so that the BERT part does not depend on it.
  at::Generator gen = at::detail::createCPUGenerator(seed + 1);
  at::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(retriever.proj->weight.size(1)));
  retriever.proj->weight.uniform_(-bound, bound, gen);
  retriever.proj->bias.uniform_(-bound, bound, gen);
  retriever.norm->weight.fill_(1.0);
  retriever.norm->bias.zero_();
}

}  // namespace fid::model
