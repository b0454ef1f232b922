// `fid import-embeddings`: FiD's released passage embeddings (the
// `passages_00` ... pickle files of generate_passage_embeddings.py) as our
// HDF5 shards and manifest, so that `retrieve` searches them. Each pickle
// file becomes one shard (ranks share the files, i % W == r), streamed in
// blocks; its ids (the TSV's id column) are checked against --passages and
// must be consecutive rows of it, and the files together must cover every
// row once.
#pragma once
#include <string>

namespace fid::dist { class Communicator; }

namespace fid::retrieval {

struct ImportEmbeddingsOptions {
  std::string embeddings;  // glob of FiD's pickle files ("wikipedia_embeddings/passages_*")
  std::string passages;    // the passages TSV they were made from
  std::string output;      // shard prefix or directory, as embed-passages' --output_path
  std::string model_path;  // optional: the retriever that made them (its fingerprint is recorded)
  std::string dtype;       // "" keeps the files' float16/float32

  void validate() const;
};

void import_embeddings(dist::Communicator& comm, const ImportEmbeddingsOptions& options);

}  // namespace fid::retrieval
