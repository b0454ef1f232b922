// `fid retrieve` as one collective job (the seed's passage_retrieval.py
// across ranks). Each rank builds or loads the FAISS index part over the
// embedding shards the shard plan gives it, the quantizer being trained once
// on a sample from every rank; each rank encodes its own questions
// (common/round_robin.h); the queries are searched in every rank's part and
// merged into the global top-k; rank 0 writes the seed's retrieval file with
// top-k accuracy and the index figures.
#pragma once
#include <cstdint>
#include <string>

#include "index/dense_index.h"
#include "sharding/local_index.h"
#include "sharding/sharded_dense_index.h"

namespace fid::dist { class Communicator; }

namespace fid::retrieval {

// save_or_load_index given without a directory: next to the embeddings.
inline constexpr const char* kIndexNextToEmbeddings = "<embeddings dir>/index";

struct RetrieveJobOptions {
  std::string model_path;  // retriever: encodes the questions
  std::string passages;    // passages TSV
  std::string data;        // questions
  std::string embeddings;  // manifest.json or glob of the shards
  std::string output;      // retrieval output (.json or .jsonl)
  std::string index_type;  // flat | pq | ivfpq; "": the seed's rule (pq_m > 0 means PQ);
                           // params.factory set: FAISS's index_factory string instead
  std::string save_or_load_index;  // "": build in memory only
  int64_t batch_size = 64;          // questions encoded at a time per rank
  int64_t question_maxlength = -1;  // -1: the retriever's config
  int validation_workers = 0;       // rank 0's answer-checking threads (0: all cores)
  std::string match = "string";     // DPR's --match: string (tokens) or regex (answers are patterns)
  bool no_fp16 = false;
  std::string device = "auto";  // --device, of the question encoder (runtime/placement.h)
  index::IndexParams params = [] {
    index::IndexParams p;
    p.nprobe = 16;
    return p;
  }();
  sharding::BuildOptions build = [] {
    sharding::BuildOptions b;
    b.add_batch = 50000;
    return b;
  }();
  sharding::DenseSearchOptions search;

  // Errors name the flag; dims and sample sizes are checked against the
  // embeddings when the job runs.
  void validate() const;
};

void run_retrieve_job(dist::Communicator& comm, RetrieveJobOptions options);

}  // namespace fid::retrieval
