// FiD's inputs from text, as the reference's Dataset and collators make them:
// the reader's Collator (question + passage rows, targets with -100 at
// padding) and the retriever's RetrieverCollator (questions and passages
// encoded separately, gold scores). Outputs are plain row-major vectors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "text/bert_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace fid::text {

// Dataset's formatting: "question: <q>", "title: <t> context: <c>",
// "<target> </s>".
std::string format_question(const std::string& question, const std::string& prefix = "question:");
std::string format_passage(const std::string& title, const std::string& text,
                           const std::string& title_prefix = "title:",
                           const std::string& passage_prefix = "context:");
std::string format_target(const std::string& target);

// One example, already formatted. No passages: the question alone makes the
// single encoder row (the reference's example without ctxs).
struct FidTextExample {
  std::string question;
  std::vector<std::string> passages;
  std::string target;  // formatted; ignored when FidBatchOptions::with_targets is false
};

struct FidBatchOptions {
  int64_t text_maxlength = 200;
  // <= 0: targets neither truncated nor padded beyond the batch's longest.
  int64_t answer_maxlength = -1;
  bool with_targets = true;
};

struct FidBatch {
  int64_t batch = 0, n_passages = 0, length = 0, target_length = 0;
  std::vector<int64_t> passage_ids;   // (B, N, L)
  std::vector<int64_t> passage_mask;  // (B, N, L) 0/1
  std::vector<int64_t> target_ids;    // (B, T), -100 at padding
  std::vector<int64_t> target_mask;   // (B, T) 0/1
};

// The encoder rows are question + " " + passage. Every example must have the
// same number of passages (the reference stacks them into one tensor).
FidBatch encode_fid_batch(const T5Tokenizer& tokenizer, const std::vector<FidTextExample>& examples,
                          const FidBatchOptions& options);

struct RetrieverTextExample {
  std::string question;               // formatted
  std::vector<std::string> passages;  // formatted
  std::vector<float> scores;          // gold scores, one per passage (may be empty)
};

struct RetrieverBatch {
  int64_t batch = 0, n_passages = 0, question_length = 0, passage_length = 0;
  std::vector<int64_t> question_ids, question_mask;  // (B, Lq)
  std::vector<int64_t> passage_ids, passage_mask;    // (B, N, Lp)
  std::vector<float> gold_score;                     // (B, N); empty without scores
};

RetrieverBatch encode_retriever_batch(const BertTokenizer& tokenizer,
                                      const std::vector<RetrieverTextExample>& examples,
                                      int64_t question_maxlength, int64_t passage_maxlength);
// The same with a sentencepiece tokenizer (retriever directories with spiece.model).
RetrieverBatch encode_retriever_batch(const T5Tokenizer& tokenizer,
                                      const std::vector<RetrieverTextExample>& examples,
                                      int64_t question_maxlength, int64_t passage_maxlength);

}  // namespace fid::text
