// A retriever with its tokenizer (WordPiece for vocab.txt directories,
// sentencepiece for spiece.model ones), and FiD examples turned into its
// input tensors as the seed's Dataset + RetrieverCollator do.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/example.h"
#include "model/retriever.h"
#include "text/bert_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace fid::train {

struct RetrieverInputs {
  at::Tensor question_ids, question_mask;  // (B, Lq)
  at::Tensor passage_ids, passage_mask;    // (B, N, Lp)
  at::Tensor gold_score;                   // (B, N) float; undefined without scores
};

class LoadedRetriever {
 public:
  explicit LoadedRetriever(const std::string& dir);
  model::Retriever& model() { return model_; }
  const std::string& dir() const { return dir_; }
  // "question: <q>"
  RetrieverInputs encode_questions(const std::vector<std::string>& questions) const;
  // Questions with their first n_context ctxs ("title: <t> context: <p>") and gold scores.
  RetrieverInputs encode_examples(const std::vector<const data::Example*>& examples,
                                  int64_t n_context, bool with_scores) const;
  // Passages alone (embedding): (B, Lp) ids and mask.
  RetrieverInputs encode_passages(const std::vector<std::string>& titles,
                                  const std::vector<std::string>& texts) const;

 private:
  // Formatted texts -> (B, L) ids and mask with this retriever's tokenizer.
  void encode_texts(const std::vector<std::string>& texts, int64_t max_length, at::Tensor& ids,
                    at::Tensor& mask) const;
  std::string dir_;
  model::Retriever model_{nullptr};
  std::optional<text::BertTokenizer> wordpiece_;
  std::optional<text::T5Tokenizer> sentencepiece_;
};

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
