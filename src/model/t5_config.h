// T5's configuration: every field Hugging Face's T5Config uses, read from and
// written to config.json, plus the convention of the transformers version
// that produced the checkpoint (released FiD readers come from 3.0.2).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace fid::model {

class HfConfig;

// Which transformers version's arithmetic to follow.
enum class T5Convention {
  kHf4,  // transformers 4.x: no cross-attention bias, masks use float32's lowest value
  kV302  // transformers 3.0.2: decoder block 0 owns a cross-attention bias; masks -1e9 / -1e4
};

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double dropout_rate = 0.1;
  double layer_norm_epsilon = 1e-6;
  double initializer_factor = 1.0;
  std::string feed_forward_proj = "relu";  // relu | gated-gelu | gated-silu
  bool tie_word_embeddings = true;
  int64_t decoder_start_token_id = 0;
  int64_t pad_token_id = 0;
  int64_t eos_token_id = 1;

  T5Convention convention = T5Convention::kHf4;
  // Whether the tokenizer this model was trained with appended </s> to encoder
  // texts (4.x does, 3.0.2 does not); recorded for the data pipeline.
  bool tokenizer_appends_eos = true;

  bool gated() const { return feed_forward_proj.rfind("gated-", 0) == 0; }
  // "gelu_new" or "silu" for gated variants, "relu" otherwise.
  std::string activation() const;
  // Validates ranges and names; errors name the field and `source`.
  void validate(const std::string& source) const;

  // Reads config.json (missing fields take T5Config's defaults, as HF does;
  // num_decoder_layers defaults to num_layers). `fid_convention` and
  // `fid_tokenizer_appends_eos` are our own keys; when absent the convention is
  // left as kHf4 and may be decided from the weights by the loader.
  static T5Config from_hf(const HfConfig& config);
  static T5Config from_json(const nlohmann::json& json, const std::string& source);
  // config.json contents that HF transformers loads as a T5Config.
  nlohmann::json to_json() const;
};

std::string to_string(T5Convention c);
T5Convention parse_t5_convention(const std::string& name, const std::string& source);

}  // namespace fid::model
