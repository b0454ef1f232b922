// A Hugging Face hub cache made by a test: models--org--name/refs/main names
// a snapshot whose files are links into blobs/, as the hub writes them.
#pragma once
#include <string>

namespace fid::testing {

// Adds the model directory `src` (every file in it) to `cache` as hub model
// `name`; `sharded`: its model.safetensors split into two shards with a
// model.safetensors.index.json instead. Returns the snapshot directory.
std::string add_to_hub_cache(const std::string& cache, const std::string& name, const std::string& src,
                             bool sharded);

}  // namespace fid::testing
