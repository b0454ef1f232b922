#include "model/t5_config.h"

#include "common/error.h"
#include "model/hf_config.h"

namespace fid::model {

std::string to_string(T5Convention c) {
  return c == T5Convention::kV302 ? "transformers-3.0.2" : "transformers-4";
}

T5Convention parse_t5_convention(const std::string& name, const std::string& source) {
  // The short names are the tokenizer's (text/t5_tokenizer.h) spellings.
  for (const char* n : {"transformers-4", "hf4", "v4", "4", "4.x"})
    if (name == n) return T5Convention::kHf4;
  for (const char* n : {"transformers-3.0.2", "v302", "3.0.2", "3"})
    if (name == n) return T5Convention::kV302;
  FID_THROW("config field 'fid_convention' in ", source, " is '", name,
            "'; expected 'transformers-4' or 'transformers-3.0.2'");
}

std::string T5Config::activation() const {
  if (feed_forward_proj == "relu" || feed_forward_proj == "gated-relu") return "relu";
  if (feed_forward_proj == "gated-gelu" || feed_forward_proj == "gelu") return "gelu_new";
  if (feed_forward_proj == "gated-silu" || feed_forward_proj == "silu") return "silu";
  FID_THROW("unknown feed_forward_proj '", feed_forward_proj, "'");
}

void T5Config::validate(const std::string& source) const {
  auto positive = [&](const char* name, int64_t v) {
    FID_CHECK(v > 0, "config field '", name, "' in ", source, " must be positive, not ", v);
  };
  positive("vocab_size", vocab_size);
  positive("d_model", d_model);
  positive("d_kv", d_kv);
  positive("d_ff", d_ff);
  positive("num_layers", num_layers);
  positive("num_decoder_layers", num_decoder_layers);
  positive("num_heads", num_heads);
  positive("relative_attention_num_buckets", relative_attention_num_buckets);
  positive("relative_attention_max_distance", relative_attention_max_distance);
  FID_CHECK(relative_attention_num_buckets >= 4, "config field 'relative_attention_num_buckets' in ",
            source, " must be at least 4");
  FID_CHECK(dropout_rate >= 0.0 && dropout_rate < 1.0, "config field 'dropout_rate' in ", source,
            " must be in [0, 1), not ", dropout_rate);
  FID_CHECK(layer_norm_epsilon > 0.0, "config field 'layer_norm_epsilon' in ", source,
            " must be positive");
  FID_CHECK(feed_forward_proj == "relu" || feed_forward_proj == "gated-gelu" ||
                feed_forward_proj == "gated-silu" || feed_forward_proj == "gated-relu",
            "config field 'feed_forward_proj' in ", source, " is '", feed_forward_proj,
            "'; expected relu, gated-gelu, gated-silu or gated-relu");
  for (auto [name, id] : {std::pair<const char*, int64_t>{"decoder_start_token_id", decoder_start_token_id},
                          {"pad_token_id", pad_token_id},
                          {"eos_token_id", eos_token_id}})
    FID_CHECK(id >= 0 && id < vocab_size, "config field '", name, "' in ", source, " is ", id,
              ", outside the vocabulary of ", vocab_size);
}

T5Config T5Config::from_hf(const HfConfig& c) {
  const std::string model_type = c.get_string("model_type", "t5");
  FID_CHECK(model_type == "t5", "config ", c.source(), " has model_type '", model_type,
            "'; a T5 (or FiD-T5) model is needed here");
  T5Config t;
  t.vocab_size = c.get_int("vocab_size", t.vocab_size);
  t.d_model = c.get_int("d_model", t.d_model);
  t.d_kv = c.get_int("d_kv", t.d_kv);
  t.d_ff = c.get_int("d_ff", t.d_ff);
  t.num_layers = c.get_int("num_layers", t.num_layers);
  t.num_decoder_layers = c.get_int("num_decoder_layers", t.num_layers);
  t.num_heads = c.get_int("num_heads", t.num_heads);
  t.relative_attention_num_buckets =
      c.get_int("relative_attention_num_buckets", t.relative_attention_num_buckets);
  t.relative_attention_max_distance =
      c.get_int("relative_attention_max_distance", t.relative_attention_max_distance);
  t.dropout_rate = c.get_double("dropout_rate", t.dropout_rate);
  t.layer_norm_epsilon = c.get_double("layer_norm_epsilon", t.layer_norm_epsilon);
  t.initializer_factor = c.get_double("initializer_factor", t.initializer_factor);
  t.feed_forward_proj = c.get_string("feed_forward_proj", t.feed_forward_proj);
  t.tie_word_embeddings = c.get_bool("tie_word_embeddings", t.tie_word_embeddings);
  t.decoder_start_token_id = c.get_int("decoder_start_token_id", t.decoder_start_token_id);
  t.pad_token_id = c.get_int("pad_token_id", t.pad_token_id);
  t.eos_token_id = c.get_int("eos_token_id", t.eos_token_id);
  if (c.has("fid_convention"))
    t.convention = parse_t5_convention(c.get_string("fid_convention"), c.source());
  t.tokenizer_appends_eos =
      c.get_bool("fid_tokenizer_appends_eos", t.convention == T5Convention::kHf4);
  t.validate(c.source());
  return t;
}

T5Config T5Config::from_json(const nlohmann::json& json, const std::string& source) {
  return from_hf(HfConfig(json, source));
}

nlohmann::json T5Config::to_json() const {
  nlohmann::json j;
  j["architectures"] = {"T5ForConditionalGeneration"};
  j["model_type"] = "t5";
  j["is_encoder_decoder"] = true;
  j["vocab_size"] = vocab_size;
  j["d_model"] = d_model;
  j["d_kv"] = d_kv;
  j["d_ff"] = d_ff;
  j["num_layers"] = num_layers;
  j["num_decoder_layers"] = num_decoder_layers;
  j["num_heads"] = num_heads;
  j["relative_attention_num_buckets"] = relative_attention_num_buckets;
  j["relative_attention_max_distance"] = relative_attention_max_distance;
  j["dropout_rate"] = dropout_rate;
  j["layer_norm_epsilon"] = layer_norm_epsilon;
  j["initializer_factor"] = initializer_factor;
  j["feed_forward_proj"] = feed_forward_proj;
  // HF 4.x derives these two from feed_forward_proj; written for older readers.
  j["dense_act_fn"] = gated() ? activation() : "relu";
  j["is_gated_act"] = gated();
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["decoder_start_token_id"] = decoder_start_token_id;
  j["pad_token_id"] = pad_token_id;
  j["eos_token_id"] = eos_token_id;
  j["use_cache"] = true;
  j["fid_convention"] = to_string(convention);
  j["fid_tokenizer_appends_eos"] = tokenizer_appends_eos;
  return j;
}

}  // namespace fid::model
