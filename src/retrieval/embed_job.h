// `fid embed-passages` as one collective job (the seed's
// generate_passage_embeddings.py). Each process writes one HDF5 shard of the
// shard plan: under mpirun every rank is a shard, with shard_id/num_shards
// every array-job element is a block of shards, and both combine. A shard is
// written as <name>.tmp with a record of the rows done, so a rerun resumes
// where an interrupted run stopped, and is renamed when complete; once every
// shard of the plan is there, rank 0 lists them in manifest.json.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/passage_embedder.h"

namespace fid::dist { class Communicator; }

namespace fid::retrieval {

struct EmbedJobOptions {
  std::string model_path;  // retriever directory
  std::string passages;    // passages TSV
  // Shard prefix (emb/passages -> emb/passages_00000.h5 ...) or a directory
  // (existing, or ending in '/'), which gets the prefix "passages".
  std::string output;
  int shard_id = 0, num_shards = 1;  // this array-job element, of how many
  int64_t passage_maxlength = -1;    // -1: the model's config
  bool no_fp16 = false;              // run the model in float32
  std::string precision = "auto";    // auto (the --no_fp16 rule) | fp32 | int8
  std::string device = "auto";       // --device (runtime/placement.h)
  bool fletcher32 = false;           // per-chunk checksums
  std::string dtype = "float16";     // stored vectors
  runtime::EmbedOptions pipeline;    // batch, window, tokenizer threads (device and dtype: chosen here)

  void validate() const;
};

void run_embed_job(dist::Communicator& comm, EmbedJobOptions options);

}  // namespace fid::retrieval
