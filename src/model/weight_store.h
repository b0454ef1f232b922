// The one strict weight store: checkpoint tensors are copied into a module by
// name (module names equal checkpoint keys), and every missing, unexpected or
// mis-shaped tensor is reported together in one fid::Error.
#pragma once
#include <torch/nn/module.h>

#include <functional>
#include <string>

#include "model/safetensors.h"

namespace fid::model {

// Maps a checkpoint key to the module's name for it; returning "" drops the
// tensor (a tied copy such as lm_head.weight == shared.weight).
using KeyMap = std::function<std::string(const std::string&)>;
// True for module names that may stay at their initial value when absent.
using AllowMissing = std::function<bool(const std::string&)>;

struct LoadReport {
  int64_t loaded = 0;
  std::vector<std::string> dropped;  // checkpoint keys the KeyMap dropped
};

// Copies `tensors` into module.named_parameters() and named_buffers(), casting
// dtypes (float16/bfloat16 on disk -> the module's dtype). `source` names the
// file in errors. Throws listing all problems, each with the key and shapes.
LoadReport load_weights(torch::nn::Module& module, const TensorMap& tensors,
                        const std::string& source, const KeyMap& key_map = nullptr,
                        const AllowMissing& allow_missing = nullptr);

// Parameters and buffers by name, detached (shares storage with the module).
TensorMap module_weights(const torch::nn::Module& module);

// FiD checkpoints wrap the encoder (EncoderWrapper + CheckpointWrapper):
// `encoder.encoder.block.N.module.rest` -> `encoder.block.N.rest`,
// `encoder.encoder.final_layer_norm.weight` -> `encoder.final_layer_norm.weight`.
// Other keys are returned unchanged.
std::string unwrap_fid_key(const std::string& key);

}  // namespace fid::model
