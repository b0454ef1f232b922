// The pieces of `fid filter-passages` (the memory-efficient paper's passage
// filter): a logistic-regression classifier trained data-parallel on passage
// embeddings, and the exact global selection of the best-scored passages.
#pragma once
#include <cstdint>
#include <vector>

namespace fid::dist { class Communicator; }

namespace fid::retrieval {

struct LinearClassifier {
  std::vector<float> w;  // (dim)
  float b = 0.0f;
  // Returned by training: the balanced loss and accuracy on the training set.
  double loss = 0.0;
  double accuracy = 0.0;
  float score(const float* x) const;
};

struct ClassifierOptions {
  int steps = 300;            // full-batch Adam steps
  double lr = 0.05;
  double weight_decay = 1e-4;  // L2 on w (not on b)
};

// Balanced logistic regression: positives and negatives weigh half of the
// loss each. `x` (n, dim) and `label` (n, 0 or 1) are this rank's examples;
// gradients are summed over ranks every step, so every rank ends with the
// same classifier, whatever the split.
LinearClassifier train_classifier(dist::Communicator& comm, const std::vector<float>& x,
                                  const std::vector<uint8_t>& label, int64_t dim,
                                  const ClassifierOptions& options);

// A deterministic uniform number in [0, 1) for (seed, row): samples that do
// not depend on which rank holds the row.
double row_uniform(uint64_t seed, int64_t row);

// Marks the `keep` best of all ranks' scores, ranked by (score descending,
// row ascending). Each rank passes its scores in increasing row order, and
// the ranks hold increasing blocks of rows (rank order). Returns this rank's
// mask.
std::vector<uint8_t> select_best(dist::Communicator& comm, const std::vector<float>& scores,
                                 int64_t keep, float* threshold = nullptr);

}  // namespace fid::retrieval
