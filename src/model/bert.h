// BERT encoder (Hugging Face BertModel) in LibTorch. Submodules are registered
// under HF's names, so named_parameters() yields exactly the checkpoint keys
// (embeddings.word_embeddings.weight, encoder.layer.N.attention.self.query.weight,
// ..., pooler.dense.weight) and loading is a name-to-name copy.
#pragma once
#include <optional>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "model/bert_config.h"

namespace fid::model {

struct BertLayerInt8;

// Applies config.hidden_act ("gelu" is the exact erf form, as HF's).
at::Tensor bert_activation(const at::Tensor& x, const std::string& hidden_act);

// Matrix products of the BERT forward. bfloat16 operands on a CPU without
// AVX512 (where LibTorch 1.13 falls back to a scalar bf16 GEMM at ~2 GFLOP/s)
// are multiplied in float32 and the result rounded back to bfloat16: the
// numerics of a bf16 GEMM with fp32 accumulation, at the float32 rate.
bool cpu_has_fast_bf16_gemm();
at::Tensor bert_linear(const at::Tensor& x, torch::nn::Linear lin);
at::Tensor bert_matmul(const at::Tensor& a, const at::Tensor& b);

// HF's extended attention mask: (B, L) 0/1 -> (B, 1, 1, L) additive, 0 for
// kept keys and finfo(dtype).min for masked ones (transformers 4.28).
at::Tensor bert_extended_mask(const at::Tensor& mask, at::ScalarType dtype);

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig& c);
  // input_ids, token_type_ids: (B, L) -> (B, L, H)
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);
  torch::nn::Embedding word_embeddings{nullptr};        // (vocab, H)
  torch::nn::Embedding position_embeddings{nullptr};    // (max_pos, H)
  torch::nn::Embedding token_type_embeddings{nullptr};  // (type_vocab, H)
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertEmbeddings);

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // x: (B, L, H), ext_mask: (B, 1, 1, L) or undefined -> (B, L, H)
  at::Tensor forward(const at::Tensor& x, const at::Tensor& ext_mask);
  int64_t n_heads, head_dim;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};  // (H, H)
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertSelfAttention);

// dense + dropout + residual + LayerNorm: BertSelfOutput and BertOutput.
struct BertResidualOutputImpl : torch::nn::Module {
  BertResidualOutputImpl(int64_t in_dim, const BertConfig& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& residual);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertResidualOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const BertConfig& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& ext_mask);
  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const BertConfig& c);
  at::Tensor forward(const at::Tensor& x);  // (B, L, H) -> (B, L, I)
  torch::nn::Linear dense{nullptr};         // (I, H)
  std::string act;
};
TORCH_MODULE(BertIntermediate);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const BertConfig& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& ext_mask);
  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidualOutput output{nullptr};
  // Packed int8 weights (model/bert_int8.h), set by quantize_bert_int8: the
  // inference layer then multiplies in int8.
  std::shared_ptr<BertLayerInt8> int8;
};
TORCH_MODULE(BertLayer);

// LayerNorm in its weights' dtype: under bf16 autocast a product's output is
// bf16, and LibTorch 1.13's CPU layer_norm refuses mixed dtypes (the norm
// runs in float32, as torch.autocast runs it).
at::Tensor bert_layer_norm(torch::nn::LayerNorm& norm, const at::Tensor& x);

// The inference layer (bert_inference.cpp): BertLayerImpl::forward's
// arithmetic in fewer passes, taken in eval mode without autograd on float32
// CPU tensors unless set_bert_fused_inference(false) was called (tests compare the two).
bool bert_fused_inference_applies(const torch::nn::Module& layer, const at::Tensor& x);
at::Tensor bert_layer_inference(BertLayerImpl& layer, const at::Tensor& x, const at::Tensor& ext_mask);
void set_bert_fused_inference(bool enabled);

struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const BertConfig& c);
  at::Tensor forward(const at::Tensor& hidden);  // (B, L, H) -> tanh(dense(h[:, 0])) (B, H)
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const BertConfig& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& ext_mask);
  torch::nn::ModuleList layer{nullptr};  // of BertLayer
};
TORCH_MODULE(BertEncoder);

struct BertOutputs {
  at::Tensor last_hidden_state;  // (B, L, H)
  at::Tensor pooler_output;      // (B, H); undefined without a pooler or when not asked
};

// HF BertModel: embeddings -> post-LayerNorm encoder -> optional pooler.
class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& config);
  // input_ids (B, L) int64; attention_mask (B, L) 0/1 or bool, undefined = attend
  // to every position (as HF with attention_mask=None); token_type_ids (B, L),
  // undefined = zeros.
  BertOutputs forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                      const at::Tensor& token_type_ids = {}, bool with_pooler = true);
  const BertConfig& config() const { return config_; }
  bool has_pooler() const { return !pooler.is_empty(); }

  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};

 private:
  BertConfig config_;
};
TORCH_MODULE(BertModel);

// HF's BertPreTrainedModel._init_weights: Linear and Embedding weights
// N(0, initializer_range), biases 0, the padding row of word_embeddings 0,
// LayerNorm weight 1 and bias 0.
void init_bert_weights(BertModelImpl& model, uint64_t seed);

}  // namespace fid::model
