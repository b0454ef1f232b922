// The passage filter of the memory-efficient paper, as one data-parallel job.
// A linear classifier on passage embeddings learns which passages retrieval
// needs (positives: the top-k ctxs of training questions; negatives: a
// uniform sample of the others); every passage is scored on the rank that
// holds it, the best-scored fraction is kept, and the kept rows are written
// as new embedding shards plus a manifest that `fid retrieve` accepts. Their
// `ids` stay the rows of the original passages file, so retrieval output
// still reads the right passages.
#pragma once
#include <cstdint>
#include <string>

#include "retrieval/passage_filter.h"

namespace fid::dist { class Communicator; }

namespace fid::retrieval {

struct FilterPassagesOptions {
  std::string passages;    // passages TSV the embeddings are of
  std::string embeddings;  // manifest.json or glob of the shards to filter
  std::string data;        // training retrieval file: its top ctxs are the positives
  std::string output_dir;  // new directory: kept shards, manifest.json, filter.json
  double keep_fraction = 0.5;
  int top_k = 20;                  // ctxs of each training question taken as positives
  double negative_ratio = 1.0;     // sampled negatives per positive
  int64_t max_positives = 200000;  // positives used at most (a uniform sample beyond)
  int64_t block = 50000;           // rows read from the shards at a time
  uint64_t seed = 1234;            // sampling seed
  ClassifierOptions classifier;
};

void filter_passages(dist::Communicator& comm, const FilterPassagesOptions& options);

}  // namespace fid::retrieval
