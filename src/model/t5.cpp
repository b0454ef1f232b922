#include "model/t5.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>

#include "common/error.h"
#include "model/autocast.h"
#include "model/lm_head.h"
#include "model/t5_kernels.h"

namespace fid::model {

T5Stack::T5Stack(const T5Config& c, bool is_decoder, int64_t n_layers, bool cross_bias) {
  auto holder = register_module("block", std::make_shared<IndexedModules>());
  for (int64_t i = 0; i < n_layers; ++i)
    // Only block 0 owns relative bias tables; the others reuse its bias.
    blocks.push_back(holder->add(std::make_shared<T5Block>(c, is_decoder, i == 0, cross_bias && i == 0)));
  final_layer_norm = register_module("final_layer_norm",
                                     std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
}

T5Model::T5Model(const T5Config& config) : config_(config) {
  config_.validate("the T5 configuration");
  shared = register_module("shared", torch::nn::Embedding(config_.vocab_size, config_.d_model));
  encoder = register_module("encoder",
                            std::make_shared<T5Stack>(config_, false, config_.num_layers, false));
  decoder = register_module(
      "decoder", std::make_shared<T5Stack>(config_, true, config_.num_decoder_layers,
                                           config_.convention == T5Convention::kV302));
  if (!config_.tie_word_embeddings)
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config_.d_model, config_.vocab_size).bias(false)));
}

at::Tensor T5Model::additive_mask(const at::Tensor& mask, bool cross) const {
  const float v = mask_value(config_.convention, cross);
  // (1 - mask) * v, as transformers builds it: 0 for tokens, v for padding.
  at::Tensor m = (1.0 - mask.to(at::kFloat)) * v;
  return m.unsqueeze(1).unsqueeze(1);  // (B, 1, 1, L)
}

at::Tensor T5Model::embed(const at::Tensor& ids) {
  // With tied embeddings the LM head's gradient of `shared` is dense and
  // joins the lookups' gradients before the parameter's gradient is written,
  // so the lookups can give sparse gradients: added in place into the dense
  // one, instead of two dense (vocab, d_model) gradients, zero-filled, summed.
  const bool sparse = config_.tie_word_embeddings && at::GradMode::is_enabled() && shared->weight.requires_grad();
  return at::embedding(shared->weight, ids, /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, sparse);
}

at::Tensor T5Model::encode(const at::Tensor& ids, const at::Tensor& mask) {
  FID_CHECK(ids.dim() == 2 && mask.sizes() == ids.sizes(), "encoder input ids and mask must be (B, L)");
  const int64_t len = ids.size(1);
  at::Tensor h = fused_dropout(embed(ids), config_.dropout_rate, is_training());
  T5Attention& sa0 = *encoder->blocks[0]->self_attn->SelfAttention;
  // (B, H, L, L): relative bias of block 0 plus the padding mask, shared by all blocks.
  at::Tensor bias = sa0.compute_bias(len, len, /*bidirectional=*/true) + additive_mask(mask, false);
  const bool recompute = checkpointing_ && is_training() && at::GradMode::is_enabled();
  for (auto& block : encoder->blocks)
    h = recompute ? checkpointed_encoder_block(*block, h, bias) : block->forward_encoder(h, bias);
  h = encoder->final_layer_norm->forward(h);
  return fused_dropout(h, config_.dropout_rate, is_training());
}

at::Tensor T5Model::decode(const at::Tensor& decoder_ids, const at::Tensor& encoder_out,
                           const at::Tensor& encoder_mask, std::vector<at::Tensor>* cross_scores) {
  const int64_t t = decoder_ids.size(1), s = encoder_out.size(1);
  const double p = config_.dropout_rate;
  const bool train = is_training();
  at::Tensor h = fused_dropout(embed(decoder_ids), p, train);  // (B, T, d)
  T5Attention& sa0 = *decoder->blocks[0]->self_attn->SelfAttention;
  // Causal mask (1, 1, T, T): 0 on and below the diagonal.
  at::Tensor causal = at::ones({t, t}, encoder_out.options().dtype(at::kFloat)).tril();
  at::Tensor self_bias = sa0.compute_bias(t, t, /*bidirectional=*/false) +
                         ((1.0 - causal) * mask_value(config_.convention, false)).view({1, 1, t, t});
  at::Tensor cross_bias = additive_mask(encoder_mask, true);  // (B, 1, 1, S)
  T5Attention& ca0 = *decoder->blocks[0]->cross_attn->EncDecAttention;
  if (!ca0.relative_attention_bias.is_empty())
    // 3.0.2: block 0's table (decoder buckets of key - query) plus the mask,
    // used unchanged by every later block.
    cross_bias = ca0.compute_bias(t, s, /*bidirectional=*/false) + cross_bias;
  if (cross_scores) cross_scores->clear();
  const int64_t b = h.size(0);
  std::vector<at::Tensor> cross_kv = cross_keys_values(encoder_out);
  for (size_t l = 0; l < decoder->blocks.size(); ++l) {
    T5Block& block = *decoder->blocks[l];
    T5Attention& sa = *block.self_attn->SelfAttention;
    at::Tensor x = block.self_attn->layer_norm->forward(h);
    auto qkv = sa.self_heads(x);
    h = dropout_add(h, sa.attend(qkv[0], qkv[1], qkv[2], self_bias, b), p, train);
    T5Attention& ca = *block.cross_attn->EncDecAttention;
    x = block.cross_attn->layer_norm->forward(h);
    at::Tensor scores;
    at::Tensor q = ca.heads(x, ca.q->weight, 1)[0];
    h = dropout_add(h, ca.attend(q, cross_kv[2 * l], cross_kv[2 * l + 1], cross_bias, b, cross_scores ? &scores : nullptr),
                    p, train);
    if (cross_scores) cross_scores->push_back(scores);
    h = block.ff->forward(h);
  }
  h = decoder->final_layer_norm->forward(h);
  return fused_dropout(h, p, train);
}

std::vector<at::Tensor> T5Model::cross_keys_values(const at::Tensor& encoder_out) {
  // One (B*S, d) x (d, layers*2*H*dk) product instead of two per layer: a
  // larger, more efficient matmul, and in backward one product gives the
  // encoder output's gradient instead of 2*layers products and their sum.
  std::vector<at::Tensor> w;
  for (auto& block : decoder->blocks) {
    T5Attention& ca = *block->cross_attn->EncDecAttention;
    w.push_back(ca.k->weight);
    w.push_back(ca.v->weight);
  }
  const int64_t n = static_cast<int64_t>(w.size());
  return decoder->blocks[0]->cross_attn->EncDecAttention->heads(encoder_out, at::cat(w), n);
}

at::Tensor T5Model::lm_logits(const at::Tensor& decoder_out) {
  const at::Tensor x = config_.tie_word_embeddings
                           ? decoder_out * std::pow(static_cast<double>(config_.d_model), -0.5)
                           : decoder_out;
  const at::Tensor& w = config_.tie_word_embeddings ? shared->weight : lm_head->weight;
  return lm_head_product(x, w);
}

DecoderCache T5Model::start_decoding(const at::Tensor& encoder_out, const at::Tensor& encoder_mask,
                                     int64_t max_length) {
  DecoderCache cache;
  const int64_t b = encoder_out.size(0), s = encoder_out.size(1);
  const int64_t h = config_.num_heads, dk = config_.d_kv;
  cache.max_length = max_length;
  const auto opts = encoder_out.options();
  std::vector<at::Tensor> cross_kv = cross_keys_values(encoder_out);
  const AutocastFlags autocast = autocast_flags(encoder_out.device().type());
  for (size_t l = 0; l < decoder->blocks.size(); ++l) {
    // Under autocast the product would cast this non-leaf weight again at
    // every step (autocast caches only parameters): cast it once here.
    at::Tensor qkv = decoder->blocks[l]->self_attn->SelfAttention->stacked_qkv();
    if (autocast.enabled) qkv = qkv.to(static_cast<at::ScalarType>(autocast.dtype));
    cache.self_qkv.push_back(qkv);
    cache.self_k.push_back(at::empty({b * h, max_length, dk}, opts));
    cache.self_v.push_back(at::empty({b * h, max_length, dk}, opts));
    cache.cross_k.push_back(cross_kv[2 * l]);
    cache.cross_v.push_back(cross_kv[2 * l + 1]);
  }
  T5Attention& sa0 = *decoder->blocks[0]->self_attn->SelfAttention;
  cache.self_bias = sa0.compute_bias(max_length, max_length, false);
  cache.cross_mask = additive_mask(encoder_mask, true);
  T5Attention& ca0 = *decoder->blocks[0]->cross_attn->EncDecAttention;
  if (!ca0.relative_attention_bias.is_empty())
    cache.cross_bias = ca0.compute_bias(max_length, s, false);
  return cache;
}

at::Tensor T5Model::decode_step(const at::Tensor& ids, DecoderCache& cache,
                                std::vector<at::Tensor>* cross_scores) {
  const int64_t t = cache.length;
  FID_CHECK(t < cache.max_length, "decoding past max_length ", cache.max_length);
  at::Tensor h = at::embedding(shared->weight, ids);  // (B, 1, d)
  // Row t of the bias tables: the last query of a t+1 token prefix.
  at::Tensor self_bias = cache.self_bias.narrow(2, t, 1).narrow(3, 0, t + 1);  // (1, H, 1, t+1)
  at::Tensor cross_bias = cache.cross_mask;
  if (cache.cross_bias.defined()) cross_bias = cache.cross_bias.narrow(2, t, 1) + cross_bias;
  if (cross_scores) cross_scores->clear();
  const int64_t b = h.size(0);
  for (size_t l = 0; l < decoder->blocks.size(); ++l) {
    T5Block& block = *decoder->blocks[l];
    T5Attention& sa = *block.self_attn->SelfAttention;
    at::Tensor x = block.self_attn->layer_norm->forward(h);
    auto qkv = sa.heads(x, cache.self_qkv[l], 3);  // (B*H, 1, dk) each
    cache.self_k[l].narrow(1, t, 1).copy_(qkv[1]);
    cache.self_v[l].narrow(1, t, 1).copy_(qkv[2]);
    h = h + sa.attend(qkv[0], cache.self_k[l].narrow(1, 0, t + 1), cache.self_v[l].narrow(1, 0, t + 1), self_bias, b);
    T5Attention& ca = *block.cross_attn->EncDecAttention;
    x = block.cross_attn->layer_norm->forward(h);
    at::Tensor scores;
    h = h + ca.attend(ca.heads(x, ca.q->weight, 1)[0], cache.cross_k[l], cache.cross_v[l], cross_bias, b,
                      cross_scores ? &scores : nullptr);
    if (cross_scores) cross_scores->push_back(scores);
    h = block.ff->forward(h);
  }
  cache.length = t + 1;
  return decoder->final_layer_norm->forward(h);
}

void init_t5_weights(T5Model& model, uint64_t seed) {
  const T5Config& c = model.config();
  const double f = c.initializer_factor;
  at::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&gen](at::Tensor& w, double std) { w.normal_(0.0, std, gen); };
  normal(model.shared->weight, f * 1.0);
  if (!c.tie_word_embeddings) normal(model.lm_head->weight, f * 1.0);
  const double dm = static_cast<double>(c.d_model);
  for (auto* stack : {model.encoder.get(), model.decoder.get()}) {
    stack->final_layer_norm->weight.fill_(f);
    for (auto& block : stack->blocks) {
      std::vector<std::pair<T5Attention*, T5LayerNorm*>> attns{
          {block->self_attn->SelfAttention.get(), block->self_attn->layer_norm.get()}};
      if (block->cross_attn)
        attns.emplace_back(block->cross_attn->EncDecAttention.get(), block->cross_attn->layer_norm.get());
      for (auto& [a, norm] : attns) {
        normal(a->q->weight, f * std::pow(dm * c.d_kv, -0.5));
        normal(a->k->weight, f * std::pow(dm, -0.5));
        normal(a->v->weight, f * std::pow(dm, -0.5));
        normal(a->o->weight, f * std::pow(static_cast<double>(c.num_heads * c.d_kv), -0.5));
        if (!a->relative_attention_bias.is_empty())
          normal(a->relative_attention_bias->weight, f * std::pow(dm, -0.5));
        norm->weight.fill_(f);
      }
      T5DenseAct& ff = *block->ff->DenseReluDense;
      if (ff.gated) {
        normal(ff.wi_0->weight, f * std::pow(dm, -0.5));
        normal(ff.wi_1->weight, f * std::pow(dm, -0.5));
      } else {
        normal(ff.wi->weight, f * std::pow(dm, -0.5));
      }
      normal(ff.wo->weight, f * std::pow(static_cast<double>(c.d_ff), -0.5));
      block->ff->layer_norm->weight.fill_(f);
    }
  }
}

}  // namespace fid::model
