// BERT and FiD-retriever configurations, read from and written to Hugging Face
// config.json files. No LibTorch here: the CLI and the trainer read configs
// without building a model.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace fid::model {

// Hugging Face BertConfig fields that change the arithmetic (defaults are
// HF's, i.e. bert-base-uncased).
struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double initializer_range = 0.02;
  // "gelu" (exact erf), "gelu_new"/"gelu_pytorch_tanh" (tanh approximation), "relu".
  std::string hidden_act = "gelu";
  bool add_pooling_layer = true;

  // Parses a config.json object; `source` names the file in error messages.
  static BertConfig from_json(const nlohmann::json& j, const std::string& source);
  // Writes the fields above into `j` (other keys already there are kept).
  void to_json(nlohmann::json& j) const;
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

enum class TokenizerKind { kWordPiece, kSentencePiece, kUnknown };
std::string tokenizer_kind_name(TokenizerKind kind);
// vocab.txt -> WordPiece, spiece.model -> sentencepiece, neither -> kUnknown.
TokenizerKind detect_tokenizer_kind(const std::string& model_dir);

// FiD's RetrieverConfig (a BertConfig plus the retriever fields) and the
// temperatures of the distillation loss (1 = off, FiD's behaviour).
struct RetrieverConfig {
  BertConfig bert;
  int64_t indexing_dimension = 768;
  bool projection = true;
  bool apply_question_mask = false;
  bool apply_passage_mask = false;
  bool extract_cls = false;
  int64_t question_maxlength = 40;
  int64_t passage_maxlength = 200;
  double score_temperature = 1.0;  // divides the retriever scores before log_softmax
  double gold_temperature = 1.0;   // divides the gold (reader) scores before softmax
  TokenizerKind tokenizer = TokenizerKind::kUnknown;  // recorded by load, not saved

  static RetrieverConfig from_json(const nlohmann::json& j, const std::string& source);
  void to_json(nlohmann::json& j) const;
  // Size of the vectors embed_text returns.
  int64_t output_dim() const { return projection ? indexing_dimension : bert.hidden_size; }
};

// init-model's BERT flags: a negative number or an empty string keeps the
// config's value.
struct BertOverrides {
  int64_t hidden_size = -1, num_hidden_layers = -1, num_attention_heads = -1, intermediate_size = -1;
  int64_t max_position_embeddings = -1, type_vocab_size = -1;
  double hidden_dropout_prob = -1, attention_probs_dropout_prob = -1;
  std::string hidden_act;
  void apply(BertConfig& c) const;
};

// A new retriever's config: `config_file` (a config.json or a directory
// holding one; "" for the defaults) with `overrides` and, when > 0,
// `vocab_size`, checked as a config file is.
RetrieverConfig make_retriever_config(const std::string& config_file, const BertOverrides& overrides,
                                      int64_t vocab_size);

// The retriever architecture options of FiD's train_retriever.py
// (--indexing_dimension, --no_projection, --no_question_mask,
// --no_passage_mask, --extract_cls, --question_maxlength,
// --passage_maxlength), each unset unless the command line gave it.
struct RetrieverArch {
  std::optional<int64_t> indexing_dimension, question_maxlength, passage_maxlength;
  std::optional<bool> projection, apply_question_mask, apply_passage_mask, extract_cls;
  // Sets the given ones in `c`.
  void apply(RetrieverConfig& c) const;
  // "\n  --flag: given X, recorded Y" for each given option that differs
  // from `c`; "" when they agree.
  std::string conflicts(const RetrieverConfig& c) const;
};

// FiD's defaults for a retriever made from a BERT (its options.py): a 768-d
// projection, question and passage padding masked, mean pooling, 40 and 200
// tokens.
RetrieverConfig fid_retriever_defaults();

// True when <dir>/config.json describes a retriever (it records
// indexing_dimension), false for a plain BERT directory.
bool is_retriever_directory(const std::string& dir);

// Reads <dir>/config.json; also records the tokenizer kind found in `dir`.
BertConfig read_bert_config(const std::string& model_dir);
RetrieverConfig read_retriever_config(const std::string& model_dir);
// A complete config.json for HF transformers (model_type "bert", architectures).
nlohmann::json bert_config_json(const BertConfig& config);
nlohmann::json retriever_config_json(const RetrieverConfig& config);

}  // namespace fid::model
