// A retriever with its tokenizer (WordPiece for vocab.txt directories,
// sentencepiece for spiece.model ones), and FiD examples turned into its
// input tensors as the seed's Dataset + RetrieverCollator do.
#pragma once
#include <c10/core/Device.h>
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/example.h"
#include "model/retriever.h"
#include "text/bert_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace fid::runtime {

struct RetrieverInputs {
  at::Tensor question_ids, question_mask;  // (B, Lq)
  at::Tensor passage_ids, passage_mask;    // (B, N, Lp)
  at::Tensor gold_score;                   // (B, N) float; undefined without scores
};

// Moves the inputs' tensors to `device` (no copy when they are there).
void move_to(RetrieverInputs& inputs, const c10::Device& device);

class LoadedRetriever {
 public:
  explicit LoadedRetriever(const std::string& dir);
  // The retriever a training run starts from, as FiD's train_retriever.py
  // makes it: `dir` itself when it is a retriever (the options in `arch`
  // must agree with its config.json: a conflict names both values), or a
  // new one from `dir`'s BERT weights with FiD's defaults and `arch`
  // (initialize_wBERT), its head drawn from `seed`.
  LoadedRetriever(const std::string& dir, const model::RetrieverArch& arch, uint64_t seed);
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
  // The tokenizer the model's config recorded (model::detect_tokenizer_kind).
  void load_tokenizer();
  std::string dir_;
  model::Retriever model_{nullptr};
  std::optional<text::BertTokenizer> wordpiece_;
  std::optional<text::T5Tokenizer> sentencepiece_;
};

// What identifies the model's output: its config.json and weights files
// (content hash of config.json, fingerprints of the weights).
std::string retriever_fingerprint(const std::string& model_dir);

}  // namespace fid::runtime
