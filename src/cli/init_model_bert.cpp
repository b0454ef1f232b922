// `fid init-model --arch bert|retriever`: a randomly initialised Hugging Face
// BERT directory, or a FiD retriever directory (BERT + projection head, the
// RetrieverConfig fields in config.json) ready for `fid train-retriever`.
// The retriever's BERT part can instead come from an existing BERT directory
// (--init_from_bert), which is how FiD starts from bert-base-uncased.
#include <ATen/ATen.h>

#include "cli/command.h"
#include "cli/init_model.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "model/bert_config.h"
#include "model/retriever_io.h"
#include "text/tokenizer_files.h"

namespace fid::cli {
namespace {

// BERT flags are shared by both architectures but may be added to the
// init-model app only once, so they live here and the bert initialiser adds them.
model::BertOverrides& bert_flags() {
  static model::BertOverrides flags;
  return flags;
}

// Config from --config, the BERT flags, and the vocabulary of --tokenizer
// (its file is returned in `tokenizer_file`, "" without --tokenizer).
model::RetrieverConfig build_config(const InitModelCommon& common, std::string* tokenizer_file) {
  int64_t vocab = common.vocab_size;
  if (!common.tokenizer.empty()) {
    *tokenizer_file = text::find_tokenizer_file(common.tokenizer, {"spiece.model", "vocab.txt"});
    const int64_t tok_vocab = text::tokenizer_vocab_size(*tokenizer_file);
    FID_CHECK(common.vocab_size <= 0 || common.vocab_size >= tok_vocab, "--vocab_size ",
              common.vocab_size, " is smaller than the tokenizer's ", tok_vocab, " ids (",
              *tokenizer_file, ")");
    if (vocab <= 0) vocab = tok_vocab;
  }
  return model::make_retriever_config(common.config_file, bert_flags(), vocab);
}

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

class BertInitializer : public ModelInitializer {
 public:
  void add_options(CLI::App& app) override {
    model::BertOverrides& f = bert_flags();
    app.add_option(flag("hidden_size"), f.hidden_size, "BERT: hidden size");
    app.add_option(flag("num_hidden_layers"), f.num_hidden_layers, "BERT: encoder layers");
    app.add_option(flag("num_attention_heads"), f.num_attention_heads, "BERT: attention heads");
    app.add_option(flag("intermediate_size"), f.intermediate_size, "BERT: feed-forward size");
    app.add_option(flag("max_position_embeddings"), f.max_position_embeddings, "BERT: longest input");
    app.add_option(flag("type_vocab_size"), f.type_vocab_size, "BERT: token type ids");
    app.add_option(flag("hidden_act"), f.hidden_act, "BERT: gelu (erf), gelu_new or relu");
    app.add_option(flag("hidden_dropout_prob"), f.hidden_dropout_prob, "BERT: dropout");
    app.add_option(flag("attention_probs_dropout_prob"), f.attention_probs_dropout_prob,
                   "BERT: attention dropout");
  }

  void run(const InitModelCommon& common) override {
    std::string tok;
    model::RetrieverConfig c = build_config(common, &tok);
    model::BertModel m(c.bert);
    model::init_bert_weights(*m, common.seed);
    model::save_bert(*m, common.output_dir);
    text::copy_tokenizer_file(tok, common.output_dir);
    log::info("init-model: BERT with ", count_parameters(*m), " parameters (hidden ",
              c.bert.hidden_size, ", ", c.bert.num_hidden_layers, " layers, vocab ",
              c.bert.vocab_size, ") written to ", common.output_dir);
  }
};

class RetrieverInitializer : public ModelInitializer {
 public:
  void add_options(CLI::App& app) override {
    app.add_option(flag("indexing_dimension"), indexing_dimension_, "retriever: projection size");
    app.add_flag(flag("no_projection"), no_projection_, "retriever: no projection head");
    app.add_flag(flag("apply_question_mask"), question_mask_, "retriever: mask question padding");
    app.add_flag(flag("apply_passage_mask"), passage_mask_, "retriever: mask passage padding");
    app.add_flag(flag("extract_cls"), extract_cls_, "retriever: first token instead of the mean");
    app.add_option(flag("question_maxlength"), question_maxlength_, "retriever: question tokens");
    app.add_option(flag("passage_maxlength"), passage_maxlength_, "retriever: passage tokens");
    app.add_option(flag("init_from_bert"), from_bert_,
                   "retriever: BERT directory whose weights (and tokenizer) start the retriever");
  }

  void run(const InitModelCommon& common) override {
    std::string tok;
    model::RetrieverConfig c = build_config(common, &tok);
    model::RetrieverArch arch;
    if (indexing_dimension_ > 0) arch.indexing_dimension = indexing_dimension_;
    if (no_projection_) arch.projection = false;
    if (question_mask_) arch.apply_question_mask = true;
    if (passage_mask_) arch.apply_passage_mask = true;
    if (extract_cls_) arch.extract_cls = true;
    if (question_maxlength_ > 0) arch.question_maxlength = question_maxlength_;
    if (passage_maxlength_ > 0) arch.passage_maxlength = passage_maxlength_;
    arch.apply(c);
    FID_CHECK(c.passage_maxlength <= c.bert.max_position_embeddings, "--passage_maxlength ",
              c.passage_maxlength, " exceeds max_position_embeddings ", c.bert.max_position_embeddings);
    model::Retriever r{nullptr};
    if (!from_bert_.empty()) {
      r = model::retriever_from_bert(from_bert_, c, common.seed);
    } else {
      r = model::Retriever(c);
      model::init_retriever_weights(*r, common.seed);
    }
    // Without --tokenizer the BERT directory's tokenizer comes along.
    model::save_retriever(*r, common.output_dir, tok.empty() ? from_bert_ : "");
    text::copy_tokenizer_file(tok, common.output_dir);
    log::info("init-model: retriever with ", count_parameters(*r), " parameters (hidden ",
              r->config().bert.hidden_size, ", ", r->config().bert.num_hidden_layers,
              " layers, output dim ", r->config().output_dim(), ") written to ", common.output_dir);
  }

 private:
  int64_t indexing_dimension_ = -1, question_maxlength_ = -1, passage_maxlength_ = -1;
  bool no_projection_ = false, question_mask_ = false, passage_mask_ = false, extract_cls_ = false;
  std::string from_bert_;
};

}  // namespace

FID_REGISTER_MODEL_INITIALIZER(BertInitializer, "bert")
FID_REGISTER_MODEL_INITIALIZER(RetrieverInitializer, "retriever")

}  // namespace fid::cli
