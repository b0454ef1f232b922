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

#include "common/splitmix.h"
#include "data/example.h"
#include "data/passages.h"

namespace fid::data {

struct SynthOptions {
  uint64_t seed = 0;
  int people = 600;
  int mentions = 4;     // other people each passage mentions (the distractors)
  int words = 100;      // approximate passage length
  double dev_fraction = 0.15;
  double test_fraction = 0.15;
};

struct SynthCorpus {
  std::vector<Passage> passages;  // id = row + 1, as DPR numbers them
  std::vector<Example> train, dev, test;  // no ctxs: retrieval adds them
};

SynthCorpus make_synth_corpus(const SynthOptions& options);

}  // namespace fid::data
