// What train-retriever learns from: the reader's scores of the passages it
// read (the distillation contract below), how confident the reader was, and
// the seed's dropout setting.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <string>

#include "data/example.h"

namespace fid::train {

// The distillation contract: the passages train-retriever ranks are exactly
// those the reader scored. Throws, naming `path` and the example, when an
// example's ctxs mix reader scores ("score_origin": "reader") with scores of
// another origin, when the reader scored fewer than n_context of them, or
// when unmarked ctxs (a file of another program) outnumber n_context (the
// seed's test_reader keeps its unread passages with their retrieval scores).
// Returns false for an unmarked example (origin not verifiable), true for a
// reader-scored one.
bool check_distillation_targets(const data::Example& ex, int64_t n_context, const std::string& path);

// The reader's confidence in its top passage: the largest share of
// softmax(score) over the example's ctxs (1/N: no preference among N).
double top_score_share(const data::Example& ex);

// The seed's set_dropout: every Dropout module gets rate p.
void set_dropout(torch::nn::Module& module, double p);

}  // namespace fid::train
