// `fid init-model --arch t5 ...`: a randomly initialised model directory
// (config.json, model.safetensors, tokenizer) from flags and/or a config file,
// ready for `fid train-reader`. The demo trains small models from scratch.
#include "cli/init_model.h"

#include <ATen/ATen.h>

#include "cli/command.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "model/hf_config.h"
#include "model/t5_io.h"
#include "text/t5_tokenizer.h"
#include "text/tokenizer_files.h"

namespace fid::cli {

std::map<std::string, ModelInitializerFactory>& model_initializers() {
  static std::map<std::string, ModelInitializerFactory> registry;
  return registry;
}

namespace {

class T5Initializer : public ModelInitializer {
 public:
  void add_options(CLI::App& app) override {
    app.add_option(flag("d_model"), d_model_, "T5: hidden size");
    app.add_option(flag("num_layers"), num_layers_, "T5: encoder blocks");
    app.add_option(flag("num_decoder_layers"), num_decoder_layers_, "T5: decoder blocks (default: num_layers)");
    app.add_option(flag("num_heads"), num_heads_, "T5: attention heads");
    app.add_option(flag("d_ff"), d_ff_, "T5: feed-forward size");
    app.add_option(flag("d_kv"), d_kv_, "T5: size per head (default: d_model / num_heads)");
    app.add_option(flag("feed_forward_proj"), ffn_, "T5: relu, gated-gelu or gated-silu");
    app.add_option(flag("dropout_rate"), dropout_, "T5: dropout probability");
    app.add_option(flag("tie_word_embeddings"), tied_, "T5: share the LM head with the embedding (true/false)");
    app.add_option(flag("tokenizer_appends_eos"), appends_eos_,
                   "T5: whether training data appends </s> to encoder texts (transformers 4 does)");
  }

  void run(const InitModelCommon& common) override {
    model::T5Config c;
    if (!common.config_file.empty()) c = model::T5Config::from_hf(model::HfConfig::load(common.config_file));
    if (d_model_ > 0) c.d_model = d_model_;
    if (num_heads_ > 0) c.num_heads = num_heads_;
    if (d_kv_ > 0) {
      c.d_kv = d_kv_;
    } else if (d_model_ > 0 || num_heads_ > 0) {
      FID_CHECK(c.d_model % c.num_heads == 0, "--d_model ", c.d_model, " is not a multiple of --num_heads ",
                c.num_heads, "; give --d_kv explicitly");
      c.d_kv = c.d_model / c.num_heads;
    }
    if (num_layers_ > 0) c.num_layers = c.num_decoder_layers = num_layers_;
    if (num_decoder_layers_ > 0) c.num_decoder_layers = num_decoder_layers_;
    if (d_ff_ > 0) c.d_ff = d_ff_;
    if (!ffn_.empty()) c.feed_forward_proj = ffn_;
    if (dropout_ >= 0) c.dropout_rate = dropout_;
    if (!tied_.empty()) c.tie_word_embeddings = parse_bool("--tie_word_embeddings", tied_);
    if (!appends_eos_.empty()) c.tokenizer_appends_eos = parse_bool("--tokenizer_appends_eos", appends_eos_);
    c.convention = model::T5Convention::kHf4;

    std::string spiece;
    if (!common.tokenizer.empty()) {
      spiece = text::find_tokenizer_file(common.tokenizer, {"spiece.model"});
      // Sentencepiece pieces plus T5's 100 sentinels.
      const int64_t tok_vocab = text::T5Tokenizer::load(spiece).vocab_size();
      if (common.vocab_size > 0) {
        FID_CHECK(common.vocab_size >= tok_vocab, "--vocab_size ", common.vocab_size,
                  " is smaller than the tokenizer's ", tok_vocab, " ids (", spiece, ")");
      } else {
        c.vocab_size = tok_vocab;
      }
    }
    if (common.vocab_size > 0) c.vocab_size = common.vocab_size;
    c.validate("the init-model flags");

    model::T5Model m(c);
    model::init_t5_weights(m, common.seed);
    model::save_t5(m, common.output_dir, spiece);
    int64_t n_params = 0;
    for (const auto& p : m.parameters()) n_params += p.numel();
    log::info("init-model: T5 with ", n_params, " parameters (d_model ", c.d_model, ", ", c.num_layers, "+",
              c.num_decoder_layers, " layers, vocab ", c.vocab_size, ") written to ", common.output_dir);
  }

 private:
  static bool parse_bool(const char* name, const std::string& v) {
    if (v == "true" || v == "1") return true;
    if (v == "false" || v == "0") return false;
    FID_THROW(name, " must be true or false, not '", v, "'");
  }
  int64_t d_model_ = -1, num_layers_ = -1, num_decoder_layers_ = -1, num_heads_ = -1, d_ff_ = -1, d_kv_ = -1;
  double dropout_ = -1;
  std::string ffn_, tied_, appends_eos_;
};

class InitModelCommand : public Command {
 public:
  std::string name() const override { return "init-model"; }
  std::string description() const override {
    return "write a randomly initialised model directory (config, weights, tokenizer)";
  }
  bool distributed() const override { return false; }

  void add_options(CLI::App& app) override {
    std::vector<std::string> arches;
    for (auto& [arch, factory] : model_initializers()) {
      arches.push_back(arch);
      initializers_[arch] = factory();
      initializers_[arch]->add_options(app);
    }
    app.add_option(flag("arch"), arch_, "model architecture")->required()->check(CLI::IsMember(arches));
    app.add_option(flag("config"), common_.config_file, "HF config.json to start from; flags override its fields");
    app.add_option(flag("tokenizer"), common_.tokenizer,
                   "tokenizer file or directory; copied into the model, sets vocab_size");
    app.add_option(flag("vocab_size"), common_.vocab_size, "vocabulary size (default: the tokenizer's)");
    app.add_option(flag("seed"), common_.seed, "random seed of the initialisation");
    app.add_option(flag("output_dir"), common_.output_dir, "model directory to create")->required();
    app.add_flag(flag("overwrite"), common_.overwrite, "replace a model already in --output_dir");
  }

  void run(dist::Communicator&) override {
    FID_CHECK(!common_.tokenizer.empty() || common_.vocab_size > 0 || !common_.config_file.empty(),
              "init-model needs --tokenizer (or --vocab_size / --config) to size the vocabulary");
    FID_CHECK(common_.overwrite || !path_exists(join_path(common_.output_dir, "config.json")),
              "--output_dir ", common_.output_dir, " already holds a model; choose another directory or pass --overwrite");
    initializers_.at(arch_)->run(common_);
  }

 private:
  std::string arch_;
  InitModelCommon common_;
  std::map<std::string, std::unique_ptr<ModelInitializer>> initializers_;
};

}  // namespace

FID_REGISTER_MODEL_INITIALIZER(T5Initializer, "t5")
FID_REGISTER_COMMAND(InitModelCommand, "init-model")

}  // namespace fid::cli
