// A tiny corpus (fid synth-data), a tiny retriever (fid init-model) and its
// passage embeddings (fid embed-passages, 3 ranks), for the tests that drive
// `fid retrieve`, `filter-passages` and `evaluate-retrieval` under mpiexec.
// The vectors are read back from the shards, so the tests know every vector
// the index holds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "support/workspace.h"

namespace fid::testing {

class RetrieveWorkspace : public Workspace {
 public:
  static constexpr int64_t kDim = 16;

  RetrieveWorkspace();
  std::string manifest() const { return path("emb/manifest.json"); }
  std::string retriever() const { return path("ret"); }
  int64_t num_passages() const { return static_cast<int64_t>(vectors_.size()) / kDim; }
  // (passages, kDim) float32, row-major in passages-file order.
  const std::vector<float>& vectors() const { return vectors_; }

  // The retriever's float32 question vectors, (n, kDim).
  std::vector<float> encode_questions(const std::vector<std::string>& questions) const;

 private:
  std::vector<float> vectors_;
};

// The workspace of this test executable, made on first use.
RetrieveWorkspace& workspace();

double dot(const float* a, const float* b, int64_t d);

}  // namespace fid::testing
