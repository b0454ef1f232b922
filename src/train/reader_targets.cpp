#include "train/reader_targets.h"

#include <algorithm>

#include "text/metrics.h"

namespace fid::train {

void answer_passages_first(data::Example& ex, int64_t n_context) {
  if (!ex.answers.empty()) {
    text::AnswerMatcher matcher(ex.answers);
    std::stable_partition(ex.ctxs.begin(), ex.ctxs.end(),
                          [&](const data::Context& c) { return matcher.found_in(c.text); });
  }
  if (n_context >= 0 && static_cast<int64_t>(ex.ctxs.size()) > n_context) {
    ex.ctxs.resize(static_cast<size_t>(n_context));
  }
}

}  // namespace fid::train
