// T5ForConditionalGeneration in LibTorch: shared embedding, encoder and
// decoder stacks, LM head; teacher-forced decoding and cached step-by-step
// decoding for generation. Parameter names equal Hugging Face's.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>
#include <vector>

#include "model/t5_config.h"
#include "model/t5_layers.h"

namespace fid::model {

class T5Stack : public torch::nn::Module {
 public:
  T5Stack(const T5Config& c, bool is_decoder, int64_t n_layers, bool cross_bias);
  std::vector<std::shared_ptr<T5Block>> blocks;
  std::shared_ptr<T5LayerNorm> final_layer_norm;
};

// Keys/values of a generation in progress. Self-attention K/V are written in
// place into buffers of max_length positions; cross-attention K/V are computed
// once from the encoder output.
struct DecoderCache {
  std::vector<at::Tensor> self_qkv;          // per layer stacked q, k, v weights (3*H*dk, d_model)
  std::vector<at::Tensor> self_k, self_v;    // per layer (B*H, max_length, dk)
  std::vector<at::Tensor> cross_k, cross_v;  // per layer (B*H, S, dk)
  at::Tensor self_bias;   // (1, H, max_length, max_length) relative bias table
  at::Tensor cross_mask;  // (B, 1, 1, S) additive encoder mask
  at::Tensor cross_bias;  // 3.0.2 only: (1, H, max_length, S) table, mask not included
  int64_t length = 0;     // positions already decoded
  int64_t max_length = 0;
};

class T5Model : public torch::nn::Module {
 public:
  explicit T5Model(const T5Config& config);
  const T5Config& config() const { return config_; }

  // ids (B, L) int64, mask (B, L) 0/1 -> (B, L, d_model)
  at::Tensor encode(const at::Tensor& ids, const at::Tensor& mask);
  // Teacher forcing: decoder ids (B, T), encoder output (B, S, d), mask (B, S)
  // -> (B, T, d_model). `cross_scores` (if given) receives, per layer, the
  // pre-softmax cross-attention scores q·k + bias (B, H, T, S).
  at::Tensor decode(const at::Tensor& decoder_ids, const at::Tensor& encoder_out,
                    const at::Tensor& encoder_mask, std::vector<at::Tensor>* cross_scores = nullptr);
  // (B, T, d_model) -> (B, T, vocab); scales by d_model^-0.5 when tied.
  at::Tensor lm_logits(const at::Tensor& decoder_out);

  DecoderCache start_decoding(const at::Tensor& encoder_out, const at::Tensor& encoder_mask,
                              int64_t max_length);
  // One position for every row: ids (B, 1) -> (B, 1, d_model).
  at::Tensor decode_step(const at::Tensor& ids, DecoderCache& cache,
                         std::vector<at::Tensor>* cross_scores = nullptr);

  // Every decoder layer's cross-attention keys and values of the encoder
  // output (B, S, d_model), in one product: k and v per layer, (B*H, S, dk).
  std::vector<at::Tensor> cross_keys_values(const at::Tensor& encoder_out);

  // Recompute encoder blocks in backward instead of keeping their activations.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }

  torch::nn::Embedding shared{nullptr};  // (vocab, d_model)
  std::shared_ptr<T5Stack> encoder, decoder;
  torch::nn::Linear lm_head{nullptr};  // untied models only

 private:
  at::Tensor additive_mask(const at::Tensor& mask, bool cross) const;  // (B, 1, 1, L)
  at::Tensor embed(const at::Tensor& ids);                             // (B, L) -> (B, L, d_model)
  T5Config config_;
  bool checkpointing_ = false;
};

// The encoder block as a recomputing autograd function (t5_checkpoint.cpp):
// forward keeps only its inputs and the RNG state; backward reruns it.
at::Tensor checkpointed_encoder_block(T5Block& block, const at::Tensor& hidden,
                                      const at::Tensor& bias);

// Hugging Face's T5 initialisation (normal with the std T5PreTrainedModel uses).
void init_t5_weights(T5Model& model, uint64_t seed);

}  // namespace fid::model
