#include "model/t5_layers.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "model/autocast.h"
#include "model/batched_matmul.h"
#include "model/t5_kernels.h"

namespace fid::model {

at::Tensor relative_position_bucket(const at::Tensor& relative_position, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance) {
  // Same operations, in the same dtypes, as transformers, so that the float32
  // logarithm rounds identically at bucket boundaries.
  at::Tensor rp = relative_position.to(at::kLong);
  at::Tensor buckets = at::zeros_like(rp);
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (rp > 0).to(at::kLong) * num_buckets;
    rp = rp.abs();
  } else {
    rp = -at::min(rp, at::zeros_like(rp));
  }
  const int64_t max_exact = num_buckets / 2;
  at::Tensor is_small = rp < max_exact;
  at::Tensor large =
      (at::log(rp.to(at::kFloat) / max_exact) /
       std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
       static_cast<double>(num_buckets - max_exact))
          .to(at::kLong) +
      max_exact;
  large = at::min(large, at::full_like(large, num_buckets - 1));
  return buckets + at::where(is_small, rp, large);
}

at::Tensor t5_linear(const at::Tensor& x, const at::Tensor& weight) {
  const int64_t in = x.size(-1);
  if (x.numel() == in && x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat &&
      !autocast_flags(c10::DeviceType::CPU).enabled) {
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = weight.size(0);
    return at::mv(weight, x.reshape({in})).view(shape);
  }
  return at::linear(x, weight);
}

float mask_value(T5Convention c, bool cross_attention) {
  if (c == T5Convention::kV302) return cross_attention ? -1e9f : -10000.0f;
  return std::numeric_limits<float>::lowest();
}

T5LayerNorm::T5LayerNorm(int64_t d_model, double eps_) : eps(eps_) {
  weight = register_parameter("weight", at::ones({d_model}));
}

at::Tensor T5LayerNorm::forward(const at::Tensor& x) { return rms_norm(x, weight, eps); }

T5Attention::T5Attention(const T5Config& c, bool has_relative_attention_bias)
    : n_heads(c.num_heads),
      d_kv(c.d_kv),
      num_buckets(c.relative_attention_num_buckets),
      max_distance(c.relative_attention_max_distance),
      dropout(c.dropout_rate) {
  const int64_t inner = c.num_heads * c.d_kv;
  auto lin = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  q = register_module("q", lin(c.d_model, inner));
  k = register_module("k", lin(c.d_model, inner));
  v = register_module("v", lin(c.d_model, inner));
  o = register_module("o", lin(inner, c.d_model));
  if (has_relative_attention_bias)
    relative_attention_bias = register_module(
        "relative_attention_bias", torch::nn::Embedding(c.relative_attention_num_buckets, c.num_heads));
}

std::vector<at::Tensor> T5Attention::heads(const at::Tensor& x, const at::Tensor& stacked_weight,
                                           int64_t n) const {
  const int64_t b = x.size(0), l = x.size(1);
  at::Tensor y = t5_linear(x, stacked_weight);  // (B, L, n*H*dk)
  // (B, L, n, H, dk) -> (n, B, H, L, dk) in one copy, then (n, B*H, L, dk)
  y = y.view({b, l, n, n_heads, d_kv}).permute({2, 0, 3, 1, 4}).contiguous();
  return y.view({n, b * n_heads, l, d_kv}).unbind(0);
}

at::Tensor T5Attention::stacked_qkv() const { return at::cat({q->weight, k->weight, v->weight}); }

namespace {

// softmax(scores + bias) in float32, in scores' dtype, the sum kept in
// *scores_out when asked for.
at::Tensor softmax_of_sum(at::Tensor scores, const at::Tensor& bias, at::Tensor* scores_out) {
  if (scores.scalar_type() == bias.scalar_type())
    scores.add_(bias);
  else  // bfloat16 products under autocast: the sum in float32, as ATen promotes
    scores = scores + bias;
  if (scores_out != nullptr) *scores_out = scores.detach();
  return at::softmax(scores, -1, at::kFloat).to(scores.scalar_type());
}

}  // namespace

at::Tensor T5Attention::attend(const at::Tensor& qh, const at::Tensor& kh, const at::Tensor& vh,
                               const at::Tensor& bias, int64_t b, at::Tensor* scores_out) {
  const int64_t lq = qh.size(1), lk = kh.size(1);
  // (B*H, Lq, Lk), seen as (B, H, Lq, Lk) without autograd's view tracking so
  // that the bias is added in place (no CopySlices in backward).
  at::Tensor scores = at::_unsafe_view(batched_matmul(qh, kh.transpose(1, 2)), {b, n_heads, lq, lk});
  at::Tensor weights;
  if (scores_out == nullptr && bias_softmax_fuses(scores, bias))  // bfloat16 products on the CPU
    weights = bias_softmax(scores, bias);
  else
    weights = softmax_of_sum(scores, bias, scores_out);
  weights = fused_dropout(weights, dropout, is_training());
  at::Tensor ctx = batched_matmul(weights.view({b * n_heads, lq, lk}), vh);  // (B*H, Lq, dk)
  // (B, H, Lq, dk) -> (B, Lq, H*dk)
  ctx = ctx.view({b, n_heads, lq, d_kv}).transpose(1, 2).reshape({b, lq, n_heads * d_kv});
  return t5_linear(ctx, o->weight);  // (B, Lq, d_model)
}

at::Tensor T5Attention::compute_bias(int64_t q_len, int64_t k_len, bool bidirectional,
                                     int64_t query_offset) const {
  FID_CHECK(!relative_attention_bias.is_empty(), "compute_bias on an attention without a table");
  // On the table's device: the bucket indices select its rows.
  const auto opts = at::TensorOptions().dtype(at::kLong).device(relative_attention_bias->weight.device());
  at::Tensor context = at::arange(query_offset, query_offset + q_len, opts).unsqueeze(1);
  at::Tensor memory = at::arange(k_len, opts).unsqueeze(0);
  at::Tensor buckets =
      relative_position_bucket(memory - context, bidirectional, num_buckets, max_distance);
  at::Tensor values = at::embedding(relative_attention_bias->weight, buckets);  // (q, k, H)
  // Contiguous: the fused bias softmax reads rows of k (a permuted view would
  // also make every bias built from it permuted).
  return values.permute({2, 0, 1}).unsqueeze(0).contiguous();  // (1, H, q, k)
}

T5DenseAct::T5DenseAct(const T5Config& c)
    : act(c.activation()), gated(c.gated()), dropout(c.dropout_rate) {
  auto lin = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  if (gated) {
    wi_0 = register_module("wi_0", lin(c.d_model, c.d_ff));
    wi_1 = register_module("wi_1", lin(c.d_model, c.d_ff));
  } else {
    wi = register_module("wi", lin(c.d_model, c.d_ff));
  }
  wo = register_module("wo", lin(c.d_ff, c.d_model));
}

at::Tensor T5DenseAct::forward(const at::Tensor& x) {
  auto activate = [this](const at::Tensor& h) {
    if (act == "gelu_new") return at::gelu(h, "tanh");
    if (act == "silu") return at::silu(h);
    return at::relu(h);
  };
  at::Tensor h;  // (B, L, d_ff)
  if (gated)
    h = fused_dropout(activate(t5_linear(x, wi_0->weight)) * t5_linear(x, wi_1->weight), dropout, is_training());
  else if (act == "relu")
    h = relu_dropout(t5_linear(x, wi->weight), dropout, is_training());
  else
    h = fused_dropout(activate(t5_linear(x, wi->weight)), dropout, is_training());
  return t5_linear(h, wo->weight);
}

T5LayerSelfAttention::T5LayerSelfAttention(const T5Config& c, bool has_bias) {
  SelfAttention = register_module("SelfAttention", std::make_shared<T5Attention>(c, has_bias));
  layer_norm = register_module("layer_norm",
                               std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
}

T5LayerCrossAttention::T5LayerCrossAttention(const T5Config& c, bool has_bias) {
  EncDecAttention = register_module("EncDecAttention", std::make_shared<T5Attention>(c, has_bias));
  layer_norm = register_module("layer_norm",
                               std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
}

T5LayerFF::T5LayerFF(const T5Config& c) : dropout(c.dropout_rate) {
  DenseReluDense = register_module("DenseReluDense", std::make_shared<T5DenseAct>(c));
  layer_norm = register_module("layer_norm",
                               std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
}

at::Tensor T5LayerFF::forward(const at::Tensor& hidden) {
  at::Tensor y = DenseReluDense->forward(layer_norm->forward(hidden));
  return dropout_add(hidden, y, dropout, is_training());
}

T5Block::T5Block(const T5Config& c, bool is_decoder, bool has_self_bias, bool has_cross_bias)
    : dropout(c.dropout_rate) {
  auto layers = register_module("layer", std::make_shared<IndexedModules>());
  self_attn = layers->add(std::make_shared<T5LayerSelfAttention>(c, has_self_bias));
  if (is_decoder) cross_attn = layers->add(std::make_shared<T5LayerCrossAttention>(c, has_cross_bias));
  ff = layers->add(std::make_shared<T5LayerFF>(c));
}

at::Tensor T5Block::forward_encoder(const at::Tensor& hidden, const at::Tensor& bias) {
  T5Attention& sa = *self_attn->SelfAttention;
  at::Tensor x = self_attn->layer_norm->forward(hidden);  // (B, L, d)
  auto qkv = sa.self_heads(x);
  at::Tensor y = sa.attend(qkv[0], qkv[1], qkv[2], bias, hidden.size(0));
  return ff->forward(dropout_add(hidden, y, dropout, is_training()));
}

}  // namespace fid::model
