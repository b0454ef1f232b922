#include "train/retriever_io.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/dropout.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/files.h"
#include "model/retriever_io.h"
#include "text/fid_encoding.h"
#include "train/train_loop.h"

namespace fid::train {
LoadedRetriever::LoadedRetriever(const std::string& dir) : dir_(dir) {
  FID_CHECK(is_directory(dir), "retriever model directory '", dir,
            "' does not exist (`fid init-model --arch bert` creates one)");
  model_ = model::load_retriever(dir);
  if (path_exists(join_path(dir, "vocab.txt"))) {
    wordpiece_ = text::BertTokenizer::load(dir);
  } else if (path_exists(join_path(dir, "spiece.model"))) {
    text::T5TokenizerOptions o;
    o.convention = text::T5Convention::kV4;  // </s> closes each text, as [SEP] does
    sentencepiece_ = text::T5Tokenizer::load(join_path(dir, "spiece.model"), o);
  } else {
    FID_THROW("retriever directory '", dir, "' has neither vocab.txt nor spiece.model");
  }
}

RetrieverInputs LoadedRetriever::encode_examples(const std::vector<const data::Example*>& examples,
                                                 int64_t n_context, bool with_scores) const {
  std::vector<text::RetrieverTextExample> texts;
  for (const data::Example* ex : examples) {
    FID_CHECK(static_cast<int64_t>(ex->ctxs.size()) >= n_context, "example '", ex->id, "' has ",
              ex->ctxs.size(), " ctxs but --n_context is ", n_context,
              ": retrieve more passages or lower --n_context");
    text::RetrieverTextExample t;
    t.question = text::format_question(ex->question);
    for (int64_t j = 0; j < n_context; ++j) {
      const data::Context& c = ex->ctxs[static_cast<size_t>(j)];
      t.passages.push_back(text::format_passage(c.title, c.text));
      if (with_scores) {
        FID_CHECK(c.has_score, "example '", ex->id, "' ctx ", j,
                  " has no score: train-retriever needs the reader's scores "
                  "(test-reader --write_crossattention_scores)");
        t.scores.push_back(static_cast<float>(c.score));
      }
    }
    texts.push_back(std::move(t));
  }
  const auto& cfg = model_->config();
  text::RetrieverBatch b =
      wordpiece_ ? text::encode_retriever_batch(*wordpiece_, texts, cfg.question_maxlength, cfg.passage_maxlength)
                 : text::encode_retriever_batch(*sentencepiece_, texts, cfg.question_maxlength, cfg.passage_maxlength);
  RetrieverInputs in;
  in.question_ids = long_tensor(b.question_ids, {b.batch, b.question_length});
  in.question_mask = long_tensor(b.question_mask, {b.batch, b.question_length});
  in.passage_ids = long_tensor(b.passage_ids, {b.batch, b.n_passages, b.passage_length});
  in.passage_mask = long_tensor(b.passage_mask, {b.batch, b.n_passages, b.passage_length});
  if (with_scores) {
    in.gold_score = at::from_blob(b.gold_score.data(), {b.batch, b.n_passages}, at::kFloat).clone();
  }
  return in;
}

RetrieverInputs LoadedRetriever::encode_questions(const std::vector<std::string>& questions) const {
  std::vector<std::string> formatted;
  for (const auto& q : questions) formatted.push_back(text::format_question(q));
  RetrieverInputs in;
  encode_texts(formatted, model_->config().question_maxlength, in.question_ids, in.question_mask);
  return in;
}

RetrieverInputs LoadedRetriever::encode_passages(const std::vector<std::string>& titles,
                                                 const std::vector<std::string>& texts) const {
  std::vector<std::string> formatted;
  for (size_t i = 0; i < texts.size(); ++i) formatted.push_back(text::format_passage(titles[i], texts[i]));
  RetrieverInputs in;
  encode_texts(formatted, model_->config().passage_maxlength, in.passage_ids, in.passage_mask);
  return in;
}

void LoadedRetriever::encode_texts(const std::vector<std::string>& texts, int64_t max_length,
                                   at::Tensor& ids, at::Tensor& mask) const {
  text::TokenBatch t = wordpiece_ ? wordpiece_->encode_batch(texts, {max_length, true})
                                  : sentencepiece_->encode_batch(texts, {max_length, true});
  ids = long_tensor(t.ids, {t.rows, t.length});
  mask = long_tensor(t.mask, {t.rows, t.length});
}

bool check_distillation_targets(const data::Example& ex, int64_t n_context, const std::string& path) {
  int64_t reader = 0, other = 0, unmarked = 0;
  std::string other_origin;
  for (const data::Context& c : ex.ctxs) {
    if (c.score_origin == data::kReaderScoreOrigin) {
      ++reader;
    } else if (c.score_origin.empty()) {
      ++unmarked;
    } else {
      ++other;
      other_origin = c.score_origin;
    }
  }
  const auto n = static_cast<int64_t>(ex.ctxs.size());
  FID_CHECK(reader == 0 || reader == n, "'", path, "' example '", ex.id, "' mixes ", reader,
            " passages scored by the reader with ", n - reader, " scored otherwise",
            other ? " (score_origin \"" + other_origin + "\")" : std::string(),
            ": the retriever must learn from the reader's scores alone. Write the file with "
            "`fid test-reader --write_crossattention_scores`, which keeps only the scored passages");
  FID_CHECK(other == 0, "'", path, "' example '", ex.id, "' has scores of origin \"", other_origin,
            "\", not the reader's: train-retriever needs `fid test-reader "
            "--write_crossattention_scores` output");
  if (reader > 0) {
    FID_CHECK(reader >= n_context, "'", path, "' example '", ex.id, "': the reader scored ", reader,
              " passages but --n_context is ", n_context,
              ": lower --n_context, or score more passages (test-reader --n_context)");
    return true;
  }
  FID_CHECK(unmarked <= n_context, "'", path, "' example '", ex.id, "' has ", unmarked,
            " passages whose scores have no origin and --n_context is ", n_context,
            ": in a file of the seed's test_reader the passages past its --n_context keep their "
            "retrieval scores, and ranking them among the reader's trains the retriever on "
            "passages the reader never read. Score with `fid test-reader "
            "--write_crossattention_scores`, or pass --n_context ",
            unmarked, " if the reader scored every passage");
  return false;
}

double top_score_share(const data::Example& ex) {
  if (ex.ctxs.empty()) return 0.0;
  double top = ex.ctxs.front().score;
  for (const data::Context& c : ex.ctxs) top = std::max(top, c.score);
  double sum = 0;  // of exp(score - top): the top passage contributes 1
  for (const data::Context& c : ex.ctxs) sum += std::exp(c.score - top);
  return 1.0 / sum;
}

void set_dropout(torch::nn::Module& module, double p) {
  for (const auto& m : module.modules()) {
    if (auto* d = m->as<torch::nn::DropoutImpl>()) d->options.p(p);
  }
}

}  // namespace fid::train
