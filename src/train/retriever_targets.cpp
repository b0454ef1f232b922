#include "train/retriever_targets.h"

#include <torch/nn/modules/dropout.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace fid::train {

bool check_distillation_targets(const data::Example& ex, int64_t n_context, const std::string& path) {
  int64_t reader = 0, other = 0, unmarked = 0;
  std::string other_origin;
  for (const data::Context& c : ex.ctxs) {
    if (c.score_origin == data::kReaderScoreOrigin) {
      ++reader;
    } else if (c.score_origin.empty()) {
      ++unmarked;
    } else {
      ++other;
      other_origin = c.score_origin;
    }
  }
  const auto n = static_cast<int64_t>(ex.ctxs.size());
  FID_CHECK(reader == 0 || reader == n, "'", path, "' example '", ex.id, "' mixes ", reader,
            " passages scored by the reader with ", n - reader, " scored otherwise",
            other ? " (score_origin \"" + other_origin + "\")" : std::string(),
            ": the retriever must learn from the reader's scores alone. Write the file with "
            "`fid test-reader --write_crossattention_scores`, which keeps only the scored passages");
  FID_CHECK(other == 0, "'", path, "' example '", ex.id, "' has scores of origin \"", other_origin,
            "\", not the reader's: train-retriever needs `fid test-reader "
            "--write_crossattention_scores` output");
  if (reader > 0) {
    FID_CHECK(reader >= n_context, "'", path, "' example '", ex.id, "': the reader scored ", reader,
              " passages but --n_context is ", n_context,
              ": lower --n_context, or score more passages (test-reader --n_context)");
    return true;
  }
  FID_CHECK(unmarked <= n_context, "'", path, "' example '", ex.id, "' has ", unmarked,
            " passages whose scores have no origin and --n_context is ", n_context,
            ": in a file of the seed's test_reader the passages past its --n_context keep their "
            "retrieval scores, and ranking them among the reader's trains the retriever on "
            "passages the reader never read. Score with `fid test-reader "
            "--write_crossattention_scores`, or pass --n_context ",
            unmarked, " if the reader scored every passage");
  return false;
}

double top_score_share(const data::Example& ex) {
  if (ex.ctxs.empty()) return 0.0;
  double top = ex.ctxs.front().score;
  for (const data::Context& c : ex.ctxs) top = std::max(top, c.score);
  double sum = 0;  // of exp(score - top): the top passage contributes 1
  for (const data::Context& c : ex.ctxs) sum += std::exp(c.score - top);
  return 1.0 / sum;
}

void set_dropout(torch::nn::Module& module, double p) {
  for (const auto& m : module.modules()) {
    if (auto* d = m->as<torch::nn::DropoutImpl>()) d->options.p(p);
  }
}

}  // namespace fid::train
