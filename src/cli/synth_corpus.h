// A deterministic synthetic knowledge corpus for the main job and the tests:
// people with facts (birthplace, birth year, profession, teacher), one
// passage per person, and questions whose answer sits in one passage among
// distractors that mention the same person with the same words ("born",
// "worked as", "studied") but state other people's facts, so that lexical
// overlap alone does not find the answer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/example.h"
#include "data/passages.h"

namespace fid::cli {

struct SynthOptions {
  uint64_t seed = 0;
  int people = 600;
  int mentions = 4;     // other people each passage mentions (the distractors)
  int words = 100;      // approximate passage length
  double dev_fraction = 0.15;
  double test_fraction = 0.15;
};

struct SynthCorpus {
  std::vector<data::Passage> passages;  // id = row + 1, as DPR numbers them
  std::vector<data::Example> train, dev, test;  // no ctxs: retrieval adds them
};

SynthCorpus make_synth_corpus(const SynthOptions& options);

// A small, portable PRNG (std:: distributions differ across standard
// libraries; the corpus must be identical everywhere).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

}  // namespace fid::cli
