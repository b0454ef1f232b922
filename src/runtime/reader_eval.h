// Distributed FiD reader evaluation: each rank generates answers for its
// share of the examples (index modulo world size, as the seed splits its eval
// set), exact match is averaged over all ranks, and answers and
// cross-attention scores can be gathered to rank 0 in input order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "model/autocast.h"
#include "model/beam_search.h"
#include "runtime/reader_inputs.h"

namespace fid::runtime {

// What test-reader writes as each passage's score.
enum class PassageScore {
  kAttention,      // the seed's mean pre-softmax cross-attention logit, first step
  kAttentionMass,  // log of the first step's attention share (model::crossattention_log_mass)
  kLikelihood,     // mean log-likelihood of the target given the passage alone
                   // (Atlas's perplexity distillation, model::answer_log_likelihood)
};

struct ReaderEvalOptions {
  ReaderInputOptions input;
  int64_t batch_size = 1;
  // Greedy (num_beams 1) or beam search; max_length counts the start token
  // (the seed's 50). With num_return_sequences > 1 the answers of an
  // example are '\t'-joined, best first; EM and F1 score the first.
  model::GenerationOptions generation;
  int64_t max_examples = -1;  // evaluate only the first examples (-1: all)
  bool with_scores = false;   // a score per passage (below), for distillation
  PassageScore score = PassageScore::kAttention;
  bool gather = false;        // collect answers (and scores) on rank 0
  int64_t print_freq = 1000;  // batches between progress lines (the seed's --eval_print_freq)
  model::Precision precision = model::Precision::kFp32;  // --precision: bf16 autocast for generation
};

struct ReaderEvalResult {
  double exact_match = 0;  // mean over examples with answers, every rank
  double f1 = 0;           // SQuAD token F1, mean over the same examples
  int64_t scored = 0;      // examples with answers, all ranks
  int64_t total = 0;       // examples evaluated, all ranks
  // Rank 0 with `gather`: per example, in input order.
  std::vector<std::string> ids, answers;
  std::vector<std::vector<float>> scores;
};

ReaderEvalResult evaluate_reader(dist::Communicator& comm, model::FidReader& reader,
                                 const text::T5Tokenizer& tokenizer, const std::string& path,
                                 const ReaderEvalOptions& options);

}  // namespace fid::runtime

namespace fid::runtime {

// test-reader's dataset_wscores.json: the examples of `input` in input order,
// each holding only the scores[i].size() passages the reader scored, in the
// order it read them, with the reader's cross-attention scores
// (data::with_reader_scores). Other fields are kept. Written atomically, in
// the input's format (JSON list or JSON lines).
void write_dataset_with_scores(const std::string& input, const std::string& output,
                               const std::vector<std::vector<float>>& scores);

// final_output.txt: "id\tanswer" per line, in input order, written atomically.
void write_answers(const std::string& path, const std::vector<std::string>& ids,
                   const std::vector<std::string>& answers);

}  // namespace fid::runtime
