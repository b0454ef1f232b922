// Seeded clustered vectors for index tests and the retrieval benchmark:
// unit-norm cluster centres plus Gaussian noise, as passage embeddings
// cluster by topic (uniform random vectors would make PQ look worse than it is).
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fid::testing {

struct ClusteredData {
  int64_t dim = 0;
  std::vector<float> centres;  // (clusters, dim)

  ClusteredData(int64_t d, int clusters, uint64_t seed) : dim(d) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> g(0.f, 1.f);
    centres.resize(static_cast<size_t>(clusters * d));
    for (int c = 0; c < clusters; ++c) {
      float norm = 0;
      for (int64_t j = 0; j < d; ++j) {
        float v = g(rng);
        centres[c * d + j] = v;
        norm += v * v;
      }
      norm = std::sqrt(norm);
      for (int64_t j = 0; j < d; ++j) centres[c * d + j] /= norm;
    }
  }

  // n vectors (n, dim): a random centre plus noise of std `noise / sqrt(dim)`.
  std::vector<float> sample(int64_t n, uint64_t seed, float noise = 0.5f) const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> g(0.f, noise / std::sqrt(static_cast<float>(dim)));
    const int clusters = static_cast<int>(centres.size() / dim);
    std::uniform_int_distribution<int> pick(0, clusters - 1);
    std::vector<float> out(static_cast<size_t>(n * dim));
    for (int64_t i = 0; i < n; ++i) {
      const float* c = centres.data() + pick(rng) * dim;
      for (int64_t j = 0; j < dim; ++j) out[i * dim + j] = c[j] + g(rng);
    }
    return out;
  }
};

// Fraction of the true top-k ids (exact, (nq, k_true)) found in the
// approximate top-k lists ((nq, k_found)), counting the first k of each.
inline double recall_at(const std::vector<int64_t>& exact, int k_exact,
                        const std::vector<int64_t>& found, int k_found, int64_t nq, int k) {
  int64_t hit = 0;
  for (int64_t q = 0; q < nq; ++q) {
    for (int i = 0; i < k; ++i) {
      const int64_t want = exact[q * k_exact + i];
      for (int j = 0; j < k; ++j) {
        if (found[q * k_found + j] == want) {
          ++hit;
          break;
        }
      }
    }
  }
  return static_cast<double>(hit) / static_cast<double>(nq * k);
}

}  // namespace fid::testing
