#include "text/fid_encoding.h"

#include "common/error.h"

namespace fid::text {

std::string format_question(const std::string& question, const std::string& prefix) {
  return prefix + " " + question;
}

std::string format_passage(const std::string& title, const std::string& text,
                           const std::string& title_prefix, const std::string& passage_prefix) {
  return title_prefix + " " + title + " " + passage_prefix + " " + text;
}

std::string format_target(const std::string& target) { return target + " </s>"; }

FidBatch encode_fid_batch(const T5Tokenizer& tokenizer, const std::vector<FidTextExample>& examples,
                          const FidBatchOptions& options) {
  FID_CHECK(options.text_maxlength > 0, "text_maxlength must be positive, got ", options.text_maxlength);
  FidBatch out;
  out.batch = static_cast<int64_t>(examples.size());
  if (examples.empty()) return out;
  size_t n = std::max<size_t>(1, examples[0].passages.size());
  out.n_passages = static_cast<int64_t>(n);
  out.length = options.text_maxlength;

  // Encoder rows: every (question, passage) pair padded to text_maxlength.
  size_t len = static_cast<size_t>(out.length);
  out.passage_ids.reserve(examples.size() * n * len);
  out.passage_mask.reserve(examples.size() * n * len);
  std::vector<std::string> rows;
  for (size_t b = 0; b < examples.size(); ++b) {
    const FidTextExample& ex = examples[b];
    FID_CHECK(std::max<size_t>(1, ex.passages.size()) == n, "example ", b, " of the batch has ",
              ex.passages.size(), " passages, the first has ", examples[0].passages.size(),
              ": every example needs n_context passages");
    rows.clear();
    if (ex.passages.empty()) rows.push_back(ex.question);
    for (const std::string& p : ex.passages) rows.push_back(ex.question + " " + p);
    TokenBatch enc = tokenizer.encode_batch(rows, {options.text_maxlength, true});
    out.passage_ids.insert(out.passage_ids.end(), enc.ids.begin(), enc.ids.end());
    out.passage_mask.insert(out.passage_mask.end(), enc.mask.begin(), enc.mask.end());
  }

  if (!options.with_targets) return out;
  std::vector<std::string> targets;
  targets.reserve(examples.size());
  for (const FidTextExample& ex : examples) targets.push_back(ex.target);
  bool limited = options.answer_maxlength > 0;
  TokenBatch t = tokenizer.encode_batch(targets, {limited ? options.answer_maxlength : 0, limited});
  out.target_length = t.length;
  out.target_ids = std::move(t.ids);
  out.target_mask = std::move(t.mask);
  // Padding positions are ignored by the loss.
  for (size_t i = 0; i < out.target_ids.size(); ++i)
    if (out.target_mask[i] == 0) out.target_ids[i] = -100;
  return out;
}

namespace {
// The reference's RetrieverCollator for any tokenizer with encode_batch: a
// BERT retriever uses WordPiece; a retriever directory with spiece.model uses
// sentencepiece (T5's special ids, no [CLS]).
template <typename Tokenizer>
RetrieverBatch encode_retriever(const Tokenizer& tokenizer,
                                const std::vector<RetrieverTextExample>& examples,
                                int64_t question_maxlength, int64_t passage_maxlength) {
  FID_CHECK(question_maxlength > 0 && passage_maxlength > 0,
            "question_maxlength and passage_maxlength must be positive");
  RetrieverBatch out;
  out.batch = static_cast<int64_t>(examples.size());
  out.question_length = question_maxlength;
  out.passage_length = passage_maxlength;
  if (examples.empty()) return out;

  std::vector<std::string> questions;
  for (const RetrieverTextExample& ex : examples) questions.push_back(ex.question);
  TokenBatch q = tokenizer.encode_batch(questions, {question_maxlength, true});
  out.question_ids = std::move(q.ids);
  out.question_mask = std::move(q.mask);

  size_t n = examples[0].passages.size();
  out.n_passages = static_cast<int64_t>(n);
  bool with_scores = !examples[0].scores.empty();
  for (size_t b = 0; b < examples.size(); ++b) {
    const RetrieverTextExample& ex = examples[b];
    FID_CHECK(ex.passages.size() == n, "example ", b, " of the batch has ", ex.passages.size(),
              " passages, the first has ", n, ": every example needs n_context passages");
    if (n == 0) continue;
    TokenBatch p = tokenizer.encode_batch(ex.passages, {passage_maxlength, true});
    out.passage_ids.insert(out.passage_ids.end(), p.ids.begin(), p.ids.end());
    out.passage_mask.insert(out.passage_mask.end(), p.mask.begin(), p.mask.end());
    if (with_scores) {
      FID_CHECK(ex.scores.size() == n, "example ", b, " has ", ex.scores.size(), " scores for ", n,
                " passages");
      out.gold_score.insert(out.gold_score.end(), ex.scores.begin(), ex.scores.end());
    }
  }
  return out;
}
}  // namespace

RetrieverBatch encode_retriever_batch(const BertTokenizer& tokenizer,
                                      const std::vector<RetrieverTextExample>& examples,
                                      int64_t question_maxlength, int64_t passage_maxlength) {
  return encode_retriever(tokenizer, examples, question_maxlength, passage_maxlength);
}

RetrieverBatch encode_retriever_batch(const T5Tokenizer& tokenizer,
                                      const std::vector<RetrieverTextExample>& examples,
                                      int64_t question_maxlength, int64_t passage_maxlength) {
  return encode_retriever(tokenizer, examples, question_maxlength, passage_maxlength);
}

}  // namespace fid::text
