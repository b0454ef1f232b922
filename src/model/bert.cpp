// BERT forward pass, arithmetic as Hugging Face transformers 4.28 BertModel.
#include "model/bert.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/irange.h>
#include <torch/nn/init.h>

#include <atomic>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace fid::model {
namespace nn = torch::nn;

at::Tensor bert_activation(const at::Tensor& x, const std::string& hidden_act) {
  if (hidden_act == "gelu") return at::gelu(x);
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
  if (hidden_act == "relu") return at::relu(x);
  FID_THROW("unsupported hidden_act '", hidden_act, "'");
}

bool cpu_has_fast_bf16_gemm() {
  // The condition of LibTorch's oneDNN bf16 matmul path.
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool fast = __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return fast;
#else
  return false;
#endif
}

namespace {
bool upcast(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 && t.device().is_cpu() && !cpu_has_fast_bf16_gemm();
}
}  // namespace

at::Tensor bert_linear(const at::Tensor& x, torch::nn::Linear lin) {
  if (!upcast(x)) return lin->forward(x);
  const at::Tensor& b = lin->bias;
  return at::linear(x.to(at::kFloat), lin->weight.to(at::kFloat),
                    b.defined() ? b.to(at::kFloat) : at::Tensor())
      .to(at::kBFloat16);
}

at::Tensor bert_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!upcast(a)) return at::matmul(a, b);
  return at::matmul(a.to(at::kFloat), b.to(at::kFloat)).to(at::kBFloat16);
}

at::Tensor bert_extended_mask(const at::Tensor& mask, at::ScalarType dtype) {
  FID_CHECK(mask.dim() == 2, "attention mask must be (batch, length), got ", mask.sizes());
  // finfo(dtype).min rather than -inf: a fully masked row stays finite (uniform).
  double min_value = dtype == at::kBFloat16 ? -3.3895313892515355e38
                     : dtype == at::kHalf   ? -65504.0
                     : dtype == at::kDouble ? std::numeric_limits<double>::lowest()
                                            : static_cast<double>(std::numeric_limits<float>::lowest());
  at::Tensor m = mask.to(dtype).unsqueeze(1).unsqueeze(2);  // (B, 1, 1, L)
  return (1.0 - m) * min_value;
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module(
      "word_embeddings",
      nn::Embedding(nn::EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)));
  position_embeddings = register_module(
      "position_embeddings",
      nn::Embedding(nn::EmbeddingOptions(c.max_position_embeddings, c.hidden_size)));
  token_type_embeddings = register_module(
      "token_type_embeddings",
      nn::Embedding(nn::EmbeddingOptions(c.type_vocab_size, c.hidden_size)));
  LayerNorm = register_module(
      "LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", nn::Dropout(c.hidden_dropout_prob));
}

at::Tensor BertEmbeddingsImpl::forward(const at::Tensor& input_ids,
                                       const at::Tensor& token_type_ids) {
  const int64_t len = input_ids.size(1);
  FID_CHECK(len <= position_embeddings->weight.size(0), "sequence of ", len,
            " tokens is longer than max_position_embeddings ",
            position_embeddings->weight.size(0), "; lower the max length option");
  at::Tensor positions = at::arange(len, input_ids.options().dtype(at::kLong));  // (L)
  // Summed in HF's order: (word + token_type) + position.
  at::Tensor h = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  h = h + position_embeddings(positions).unsqueeze(0);  // (B, L, H)
  return dropout(bert_layer_norm(LayerNorm, h));
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
    : n_heads(c.num_attention_heads), head_dim(c.head_dim()) {
  query = register_module("query", nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", nn::Dropout(c.attention_probs_dropout_prob));
}

at::Tensor BertSelfAttentionImpl::forward(const at::Tensor& x, const at::Tensor& ext_mask) {
  const int64_t b = x.size(0), len = x.size(1);
  auto heads = [&](const at::Tensor& t) {  // (B, L, H) -> (B, nh, L, dh)
    return t.view({b, len, n_heads, head_dim}).transpose(1, 2);
  };
  at::Tensor q = heads(bert_linear(x, query)), k = heads(bert_linear(x, key)),
             v = heads(bert_linear(x, value));
  at::Tensor scores = bert_matmul(q, k.transpose(-1, -2));  // (B, nh, L, L)
  // Divide after the product, as HF does (bit-for-bit parity when dh is not a power of 4).
  scores = scores / std::sqrt(static_cast<double>(head_dim));
  if (ext_mask.defined()) scores = scores + ext_mask;
  at::Tensor probs = dropout(at::softmax(scores, -1));
  at::Tensor ctx = bert_matmul(probs, v);  // (B, nh, L, dh)
  return ctx.transpose(1, 2).reshape({b, len, n_heads * head_dim});
}

BertResidualOutputImpl::BertResidualOutputImpl(int64_t in_dim, const BertConfig& c) {
  dense = register_module("dense", nn::Linear(in_dim, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", nn::Dropout(c.hidden_dropout_prob));
}

at::Tensor bert_layer_norm(torch::nn::LayerNorm& norm, const at::Tensor& x) {
  const at::ScalarType w = norm->weight.scalar_type();
  return norm(x.scalar_type() == w ? x : x.to(w));
}

at::Tensor BertResidualOutputImpl::forward(const at::Tensor& x, const at::Tensor& residual) {
  return bert_layer_norm(LayerNorm, dropout(bert_linear(x, dense)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c.hidden_size, c));
}

at::Tensor BertAttentionImpl::forward(const at::Tensor& x, const at::Tensor& ext_mask) {
  return output(self(x, ext_mask), x);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", nn::Linear(c.hidden_size, c.intermediate_size));
}

at::Tensor BertIntermediateImpl::forward(const at::Tensor& x) {
  return bert_activation(bert_linear(x, dense), act);
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c.intermediate_size, c));
}

namespace {
std::atomic<bool> g_fused_inference{true};
}  // namespace

void set_bert_fused_inference(bool enabled) { g_fused_inference = enabled; }

at::Tensor BertLayerImpl::forward(const at::Tensor& x, const at::Tensor& ext_mask) {
  if (g_fused_inference && bert_fused_inference_applies(*this, x)) return bert_layer_inference(*this, x, ext_mask);
  at::Tensor a = attention(x, ext_mask);
  return output(intermediate(a), a);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) {
  layer = register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

at::Tensor BertEncoderImpl::forward(const at::Tensor& x, const at::Tensor& ext_mask) {
  at::Tensor h = x;
  for (const auto& m : *layer) h = m->as<BertLayerImpl>()->forward(h, ext_mask);
  return h;
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& c) {
  dense = register_module("dense", nn::Linear(c.hidden_size, c.hidden_size));
}

at::Tensor BertPoolerImpl::forward(const at::Tensor& hidden) {
  return at::tanh(bert_linear(hidden.select(1, 0), dense));
}

BertModelImpl::BertModelImpl(const BertConfig& config) : config_(config) {
  embeddings = register_module("embeddings", BertEmbeddings(config));
  encoder = register_module("encoder", BertEncoder(config));
  if (config.add_pooling_layer) pooler = register_module("pooler", BertPooler(config));
}

BertOutputs BertModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                   const at::Tensor& token_type_ids, bool with_pooler) {
  FID_CHECK(input_ids.dim() == 2, "BERT input_ids must be (batch, length), got ",
            input_ids.sizes());
  at::Tensor types = token_type_ids.defined() ? token_type_ids : at::zeros_like(input_ids);
  at::Tensor h = embeddings(input_ids, types);  // (B, L, H)
  at::Tensor ext;
  if (attention_mask.defined()) {
    FID_CHECK(attention_mask.sizes() == input_ids.sizes(), "attention mask ",
              attention_mask.sizes(), " does not match input_ids ", input_ids.sizes());
    ext = bert_extended_mask(attention_mask, h.scalar_type());  // (B, 1, 1, L)
  }
  BertOutputs out;
  out.last_hidden_state = encoder(h, ext);
  if (with_pooler && has_pooler()) out.pooler_output = pooler(out.last_hidden_state);
  return out;
}

void init_bert_weights(BertModelImpl& model, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const double std = model.config().initializer_range;
  at::NoGradGuard no_grad;
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* lin = m->as<nn::LinearImpl>()) {
      lin->weight.normal_(0.0, std, gen);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* emb = m->as<nn::EmbeddingImpl>()) {
      emb->weight.normal_(0.0, std, gen);
    } else if (auto* ln = m->as<nn::LayerNormImpl>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
  // HF zeroes the padding row of the word embeddings (padding_idx = pad_token_id).
  const int64_t pad = model.config().pad_token_id;
  if (pad >= 0 && pad < model.config().vocab_size) model.embeddings->word_embeddings->weight[pad].zero_();
}

}  // namespace fid::model
