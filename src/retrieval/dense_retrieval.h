// The embeddings a dense retrieval searches, checked against the passages
// file whose rows their ids are.
#pragma once
#include <cstdint>
#include <string>

#include "sharding/manifest.h"

namespace fid::retrieval {

// Loads a manifest or glob (`flag` names the option in errors) and checks that
// it embeds the passages file `passages_path` of `passages_rows` rows: same
// fingerprint and row count. A glob of filter-passages' shards is refused
// with a pointer to its manifest (only the manifest says they are a subset).
sharding::Manifest load_checked_embeddings(const std::string& manifest_or_glob,
                                           const std::string& passages_path,
                                           int64_t passages_rows,
                                           const std::string& flag = "--passages_embeddings");

}  // namespace fid::retrieval
