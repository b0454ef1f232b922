// How a reader's training examples are prepared beyond the seed's Dataset.
#pragma once
#include <cstdint>

#include "data/example.h"

namespace fid::train {

// DPR's choice of reader training passages: the ctxs that contain an answer
// (has_answer) first, each group in its given order, then cut to n_context
// (< 0: keep all). The seed trains on the first n_context as retrieved; a
// reader trained from scratch on passages that mostly lack the answer learns
// priors instead of reading. Examples without answers keep their order.
void answer_passages_first(data::Example& ex, int64_t n_context);

}  // namespace fid::train
