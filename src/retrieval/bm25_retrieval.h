// BM25 retrieval sharded across ranks (iteration 0 of reader-to-retriever
// distillation). Each rank indexes its shard of the passages (the shard plan
// of embed-passages and retrieve); N, df and avgdl are combined over ranks so
// that scores equal one index's; per-shard top-k lists are merged by the same
// code as dense retrieval, and rank 0 writes the seed's retrieval output.
#pragma once
#include <string>

#include "index/bm25.h"

namespace fid::dist { class Communicator; }

namespace fid::retrieval {

struct Bm25RetrievalOptions {
  std::string passages;   // passages TSV (id, text, title)
  std::string data;       // questions (FiD JSON or JSONL)
  std::string output;     // retrieval output (.json or .jsonl)
  std::string index_dir;  // each rank's index saved here, or loaded when present ("" : neither)
  int k = 100;            // passages per question
  std::string match = "string";  // DPR's --match: string (tokens) or regex (answers are patterns)
  index::Bm25Params params;
};

void bm25_retrieve(dist::Communicator& comm, const Bm25RetrievalOptions& options);

}  // namespace fid::retrieval
