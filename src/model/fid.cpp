#include "model/fid.h"

#include <ATen/ATen.h>

#include <limits>

#include "common/error.h"

namespace fid::model {

at::Tensor shift_right(const at::Tensor& labels, int64_t start_token, int64_t pad_token) {
  at::Tensor out = at::empty_like(labels);
  out.select(1, 0).fill_(start_token);
  out.narrow(1, 1, labels.size(1) - 1).copy_(labels.narrow(1, 0, labels.size(1) - 1));
  return out.masked_fill(out == -100, pad_token);
}

at::Tensor crossattention_scores(const at::Tensor& storage, const at::Tensor& passage_mask) {
  const int64_t n_layers = storage.size(0), n_heads = storage.size(2);
  const int64_t b = passage_mask.size(0), n = passage_mask.size(1), l = passage_mask.size(2);
  at::Tensor keep = passage_mask.to(at::kBool);                           // (B, N, L)
  at::Tensor summed = storage.to(at::kFloat).sum(at::IntArrayRef{0, 2}).view({b, n, l});  // (B, N, L)
  summed = summed.masked_fill(keep.logical_not(), 0.0).sum(-1);         // (B, N)
  at::Tensor ntokens = keep.sum(-1).to(at::kFloat) * static_cast<double>(n_layers * n_heads);
  return summed / ntokens;
}

at::Tensor crossattention_log_mass(const at::Tensor& storage, const at::Tensor& passage_mask) {
  const int64_t n_layers = storage.size(0), n_heads = storage.size(2);
  const int64_t b = passage_mask.size(0), n = passage_mask.size(1), l = passage_mask.size(2);
  // The storage holds the additive mask: padding gets no probability.
  at::Tensor p = at::softmax(storage.to(at::kFloat), -1);                        // (layers, B, H, N*L)
  at::Tensor mass = p.sum(at::IntArrayRef{0, 2}).view({b, n, l}).sum(-1);        // (B, N)
  mass = mass / static_cast<double>(n_layers * n_heads);
  return at::log(mass.clamp_min(1e-30));
}

at::Tensor FidReader::encode(const at::Tensor& passage_ids, const at::Tensor& passage_mask) {
  FID_CHECK(passage_ids.dim() == 3 && passage_mask.sizes() == passage_ids.sizes(),
            "FiD inputs must be (B, N, L) ids with a mask of the same shape");
  const int64_t b = passage_ids.size(0), n = passage_ids.size(1), l = passage_ids.size(2);
  // Each passage is encoded on its own: (B*N, L) -> (B*N, L, d).
  at::Tensor h = t5_->encode(passage_ids.reshape({b * n, l}), passage_mask.reshape({b * n, l}));
  return h.reshape({b, n * l, h.size(-1)});  // (B, N*L, d)
}

at::Tensor FidReader::decode_logits(const at::Tensor& encoder_out, const at::Tensor& mask,
                                   const at::Tensor& labels, const at::Tensor& decoder_ids) {
  const T5Config& c = t5_->config();
  at::Tensor dec_in = decoder_ids.defined()
                          ? decoder_ids
                          : shift_right(labels, c.decoder_start_token_id, c.pad_token_id);
  return t5_->lm_logits(t5_->decode(dec_in, encoder_out, mask));  // (B, T, vocab)
}

FidOutput FidReader::forward(const at::Tensor& passage_ids, const at::Tensor& passage_mask,
                             const at::Tensor& labels, const at::Tensor& decoder_ids) {
  FidOutput out;
  out.encoder_out = encode(passage_ids, passage_mask);
  at::Tensor mask = passage_mask.reshape({passage_ids.size(0), -1});  // (B, N*L)
  out.logits = decode_logits(out.encoder_out, mask, labels, decoder_ids);
  if (labels.defined())
    out.loss = at::cross_entropy_loss(out.logits.reshape({-1, out.logits.size(-1)}).to(at::kFloat),
                                      labels.reshape({-1}), {}, at::Reduction::Mean, -100);
  return out;
}

FidGeneration FidReader::generate(const at::Tensor& passage_ids, const at::Tensor& passage_mask,
                                  int64_t max_length, bool with_scores, int64_t min_length) {
  FID_CHECK(max_length >= 1, "max_length must be at least 1, not ", max_length);
  const T5Config& c = t5_->config();
  at::NoGradGuard no_grad;
  const int64_t b = passage_ids.size(0);
  at::Tensor enc = encode(passage_ids, passage_mask);  // (B, S, d)
  at::Tensor mask = passage_mask.reshape({b, -1});     // (B, S)
  DecoderCache cache = t5_->start_decoding(enc, mask, max_length);

  FidGeneration gen;
  at::Tensor seq = at::full({b, max_length}, c.pad_token_id, passage_ids.options().dtype(at::kLong));
  seq.select(1, 0).fill_(c.decoder_start_token_id);
  at::Tensor unfinished = at::ones({b}, seq.options());
  at::Tensor token = seq.narrow(1, 0, 1);  // (B, 1)
  int64_t len = 1;
  std::vector<at::Tensor> first_scores;
  while (len < max_length) {
    const bool capture = with_scores && len == 1;
    at::Tensor h = t5_->decode_step(token, cache, capture ? &first_scores : nullptr);
    at::Tensor logits = t5_->lm_logits(h).select(1, 0);  // (B, V)
    if (len < min_length) logits.select(1, c.eos_token_id).fill_(-std::numeric_limits<float>::infinity());
    at::Tensor next = logits.argmax(-1);  // (B)
    // Finished rows keep producing pad, as transformers' greedy search does.
    next = next * unfinished + c.pad_token_id * (1 - unfinished);
    seq.select(1, len).copy_(next);
    ++len;
    unfinished = unfinished * (next != c.eos_token_id).to(at::kLong);
    if (unfinished.max().item<int64_t>() == 0) break;
    token = next.unsqueeze(1);
  }
  gen.ids = seq.narrow(1, 0, len).clone();
  gen.encoder_out = enc;
  if (with_scores && !first_scores.empty()) {
    // Per layer (B, H, 1, S) -> (n_layers, B, H, S)
    gen.score_storage = at::stack(first_scores).squeeze(3);
    gen.crossattention_scores = crossattention_scores(gen.score_storage, passage_mask);
  }
  return gen;
}

at::Tensor answer_log_likelihood(FidReader& reader, const at::Tensor& encoder_out,
                                 const at::Tensor& passage_mask, const at::Tensor& labels) {
  FID_CHECK(passage_mask.dim() == 3 && labels.dim() == 2 && encoder_out.dim() == 3 &&
                labels.size(0) == passage_mask.size(0) &&
                encoder_out.size(0) == passage_mask.size(0) &&
                encoder_out.size(1) == passage_mask.size(1) * passage_mask.size(2),
            "answer likelihood needs encoded passages (B, N*L, d), their mask (B, N, L) and "
            "labels (B, T), got ", encoder_out.sizes(), ", ", passage_mask.sizes(), " and ",
            labels.sizes());
  at::NoGradGuard no_grad;
  const int64_t b = passage_mask.size(0), n = passage_mask.size(1), l = passage_mask.size(2);
  at::Tensor enc = encoder_out.reshape({b * n, l, encoder_out.size(2)});  // (B*N, L, d): one passage each
  at::Tensor mask = passage_mask.reshape({b * n, l});                      // (B*N, L)
  at::Tensor rep = labels.repeat_interleave(n, 0);                         // (B*N, T)
  at::Tensor logits = reader.decode_logits(enc, mask, rep).to(at::kFloat);  // (B*N, T, V)
  at::Tensor token_nll = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}),
                                                rep.reshape({-1}), {}, at::Reduction::None, -100)
                             .view({b * n, -1});                           // (B*N, T), 0 at padding
  at::Tensor count = rep.ne(-100).sum(1).clamp_min(1).to(at::kFloat);      // (B*N)
  return (-token_nll.sum(1) / count).view({b, n});                         // (B, N)
}

}  // namespace fid::model
