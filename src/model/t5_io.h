// T5 model directories: Hugging Face layout (config.json, model.safetensors or
// pytorch_model.bin, spiece.model). FiD checkpoints (wrapped encoder names,
// transformers 3.0.2's cross-attention bias) load as well.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "model/safetensors.h"
#include "model/t5.h"

namespace fid::model {

// Checkpoint key -> module name: unwraps FiD names and drops tied copies
// (encoder/decoder.embed_tokens, and lm_head when embeddings are tied).
std::string t5_key_map(const std::string& key, bool tied);

// Builds the model from a config and weights. When `config_fixed` is false and
// the weights hold decoder block 0's cross-attention bias, the 3.0.2
// convention is chosen (that table only exists in 3.0.2 checkpoints).
std::shared_ptr<T5Model> build_t5(T5Config config, const TensorMap& weights,
                                  const std::string& source, bool config_fixed = false);
// Loads a model directory.
std::shared_ptr<T5Model> load_t5(const std::string& dir);

// Writes config.json and model.safetensors (tied tensors stored once, under
// `shared.weight`, as transformers writes them) and copies `tokenizer_file`
// (spiece.model) into the directory when given.
void save_t5(const T5Model& model, const std::string& dir, const std::string& tokenizer_file = "",
             std::optional<at::ScalarType> dtype = std::nullopt);

}  // namespace fid::model
