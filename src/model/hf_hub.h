// Models from the local Hugging Face cache, offline: `--model_path t5-base`
// or `org/name` resolves to the snapshot the hub's layout points at
// (<cache>/models--org--name/snapshots/<refs/main>/), as transformers'
// from_pretrained does without network access. Sharded checkpoints
// (model.safetensors.index.json, pytorch_model.bin.index.json) are read by
// read_model_weights (safetensors.h) through sharded_weight_files().
#pragma once
#include <string>
#include <vector>

namespace fid::model {

// The hub caches searched, in transformers' order: $HF_HUB_CACHE,
// $HF_HOME/hub, $TRANSFORMERS_CACHE, $XDG_CACHE_HOME/huggingface/hub,
// ~/.cache/huggingface/hub (each only when its variable is set).
std::vector<std::string> hub_cache_dirs();

// `name_or_dir` itself when it is a directory, "none", or not a hub name
// ("name" or "org/name": an absolute or dotted path is left to the loader,
// whose error names the flag); else the cached snapshot of the hub model of
// that name. Throws naming every place it looked when the name is in no cache.
std::string resolve_model_dir(const std::string& name_or_dir);

// The weight files of a sharded checkpoint in `dir`, in index order, from
// <weights>.index.json's weight_map (e.g. model.safetensors.index.json);
// empty when `dir` has no such index. `tensors` receives the number of
// tensors the index names.
std::vector<std::string> sharded_weight_files(const std::string& dir, const std::string& weights,
                                              size_t* tensors = nullptr);

}  // namespace fid::model
