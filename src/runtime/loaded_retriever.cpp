#include "runtime/loaded_retriever.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "runtime/host_tensor.h"
#include "model/retriever_io.h"
#include "text/fid_encoding.h"

namespace fid::runtime {
LoadedRetriever::LoadedRetriever(const std::string& dir) : dir_(dir) {
  FID_CHECK(is_directory(dir), "retriever model directory '", dir,
            "' does not exist (`fid init-model --arch bert` creates one)");
  model_ = model::load_retriever(dir);
  load_tokenizer();
}

LoadedRetriever::LoadedRetriever(const std::string& dir, const model::RetrieverArch& arch, uint64_t seed)
    : dir_(dir) {
  FID_CHECK(is_directory(dir), "model directory '", dir,
            "' does not exist (give a retriever or a BERT directory; `fid init-model --arch bert` "
            "creates one)");
  if (model::is_retriever_directory(dir)) {
    model_ = model::load_retriever(dir);
    const std::string diff = arch.conflicts(model_->config());
    FID_CHECK(diff.empty(), "the retriever '", dir, "' records another architecture than the options give:",
              diff, "\nHINT: these options apply when training starts from a BERT; leave them out to "
                    "continue this retriever as it is");
  } else {
    model::RetrieverConfig config = model::fid_retriever_defaults();
    arch.apply(config);
    model_ = model::retriever_from_bert(dir, config, seed);
    log::info("a new retriever from the BERT in '", dir, "' (output dim ", model_->config().output_dim(),
              ", question/passage masks ", model_->config().apply_question_mask, "/",
              model_->config().apply_passage_mask, ", ", model_->config().question_maxlength, "/",
              model_->config().passage_maxlength, " tokens)");
  }
  load_tokenizer();
}

void LoadedRetriever::load_tokenizer() {
  const std::string& dir = dir_;
  // The kind the model's config recorded (model::detect_tokenizer_kind), so
  // that the model and its tokenizer never disagree.
  switch (model_->config().tokenizer) {
    case model::TokenizerKind::kWordPiece:
      wordpiece_ = text::BertTokenizer::load(dir);
      break;
    case model::TokenizerKind::kSentencePiece: {
      text::T5TokenizerOptions o;
      o.convention = text::T5Convention::kV4;  // </s> closes each text, as [SEP] does
      sentencepiece_ = text::T5Tokenizer::load(join_path(dir, "spiece.model"), o);
      break;
    }
    case model::TokenizerKind::kUnknown:
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

std::string retriever_fingerprint(const std::string& model_dir) {
  const std::string config = read_file(join_path(model_dir, "config.json"));
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(fnv1a64(config.data(), config.size())));
  std::string fp = std::string("config-") + hex;
  for (const char* weights : {"model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                              "pytorch_model.bin.index.json"}) {
    const std::string path = join_path(model_dir, weights);
    if (path_exists(path)) fp += std::string("/") + weights + "-" + file_fingerprint(path);
  }
  return fp;
}

void move_to(RetrieverInputs& in, const c10::Device& device) {
  for (at::Tensor* t : {&in.question_ids, &in.question_mask, &in.passage_ids, &in.passage_mask, &in.gold_score}) {
    if (t->defined()) *t = t->to(device);
  }
}

}  // namespace fid::runtime
