#include "model/t5_io.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "model/hf_config.h"
#include "model/weight_store.h"

namespace fid::model {
namespace {
const char* kCrossBiasKey = "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight";
}

std::string t5_key_map(const std::string& key, bool tied) {
  const std::string name = unwrap_fid_key(key);
  if (name == "encoder.embed_tokens.weight" || name == "decoder.embed_tokens.weight") return "";
  if (tied && name == "lm_head.weight") return "";
  return name;
}

std::shared_ptr<T5Model> build_t5(T5Config config, const TensorMap& weights,
                                  const std::string& source, bool config_fixed) {
  if (!config_fixed && weights.count(kCrossBiasKey)) {
    config.convention = T5Convention::kV302;
    config.tokenizer_appends_eos = false;
  }
  if (config.convention == T5Convention::kV302 && config.relative_attention_max_distance != 128) {
    // 3.0.2 had no such setting: its buckets always used 128.
    log::warn("transformers 3.0.2 checkpoint ", source, ": relative_attention_max_distance ",
              config.relative_attention_max_distance, " ignored, using 128 as 3.0.2 did");
    config.relative_attention_max_distance = 128;
  }
  auto model = std::make_shared<T5Model>(config);
  const bool tied = config.tie_word_embeddings;
  load_weights(*model, weights, source, [tied](const std::string& k) { return t5_key_map(k, tied); });
  model->eval();  // inference by default; trainers switch to train()
  return model;
}

std::shared_ptr<T5Model> load_t5(const std::string& dir) {
  HfConfig hc = HfConfig::load(dir);
  T5Config config = T5Config::from_hf(hc);
  std::string file;
  TensorMap weights = read_model_weights(dir, &file);
  // Our own configs name the convention; others (HF, FiD) are recognised by
  // the 3.0.2-only cross-attention table.
  if (!hc.has("fid_convention") && weights.count(kCrossBiasKey)) {
    config.convention = T5Convention::kV302;
    config.tokenizer_appends_eos = hc.get_bool("fid_tokenizer_appends_eos", false);
  }
  return build_t5(config, weights, file, /*config_fixed=*/true);
}

void save_t5(const T5Model& model, const std::string& dir, const std::string& tokenizer_file,
             std::optional<at::ScalarType> dtype) {
  make_directories(dir);
  write_json_atomic(join_path(dir, "config.json"), model.config().to_json());
  write_safetensors(join_path(dir, "model.safetensors"), module_weights(model), dtype);
  if (!tokenizer_file.empty()) {
    FID_CHECK(path_exists(tokenizer_file), "tokenizer file ", tokenizer_file, " does not exist");
    const size_t slash = tokenizer_file.find_last_of('/');
    const std::string base = slash == std::string::npos ? tokenizer_file : tokenizer_file.substr(slash + 1);
    write_file_atomic(join_path(dir, base), read_file(tokenizer_file));
  }
}

}  // namespace fid::model
