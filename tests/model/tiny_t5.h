// A T5 small enough for exact tests: 50 tokens, d_model 16, 2+2 layers, no
// dropout.
#pragma once
#include <string>

#include "model/t5_config.h"

namespace fid::testing {

inline model::T5Config tiny_t5_config(const std::string& ffn = "relu", bool tied = true) {
  model::T5Config c;
  c.vocab_size = 50;
  c.d_model = 16;
  c.d_kv = 4;
  c.d_ff = 24;
  c.num_layers = 2;
  c.num_decoder_layers = 2;
  c.num_heads = 2;
  c.relative_attention_num_buckets = 8;
  c.relative_attention_max_distance = 20;
  c.dropout_rate = 0.0;
  c.feed_forward_proj = ffn;
  c.tie_word_embeddings = tied;
  return c;
}

}  // namespace fid::testing
