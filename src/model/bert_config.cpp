// Hugging Face config.json <-> BertConfig / RetrieverConfig.
#include "model/bert_config.h"

#include <sstream>

#include "common/error.h"
#include "common/files.h"

namespace fid::model {
namespace {

template <typename T>
void read_opt(const nlohmann::json& j, const char* key, T& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    FID_THROW(source, ": field '", key, "' has the wrong type (", it->type_name(),
              "): ", e.what(), "; fix the config file");
  }
}

void check_positive(int64_t v, const char* key, const std::string& source) {
  FID_CHECK(v > 0, source, ": field '", key, "' must be positive, got ", v);
}

}  // namespace

BertConfig BertConfig::from_json(const nlohmann::json& j, const std::string& source) {
  FID_CHECK(j.is_object(), source, ": config must be a JSON object");
  BertConfig c;
  read_opt(j, "vocab_size", c.vocab_size, source);
  read_opt(j, "hidden_size", c.hidden_size, source);
  read_opt(j, "num_hidden_layers", c.num_hidden_layers, source);
  read_opt(j, "num_attention_heads", c.num_attention_heads, source);
  read_opt(j, "intermediate_size", c.intermediate_size, source);
  read_opt(j, "max_position_embeddings", c.max_position_embeddings, source);
  read_opt(j, "type_vocab_size", c.type_vocab_size, source);
  read_opt(j, "pad_token_id", c.pad_token_id, source);
  read_opt(j, "layer_norm_eps", c.layer_norm_eps, source);
  read_opt(j, "hidden_dropout_prob", c.hidden_dropout_prob, source);
  read_opt(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, source);
  read_opt(j, "initializer_range", c.initializer_range, source);
  read_opt(j, "hidden_act", c.hidden_act, source);
  read_opt(j, "add_pooling_layer", c.add_pooling_layer, source);
  check_positive(c.vocab_size, "vocab_size", source);
  check_positive(c.hidden_size, "hidden_size", source);
  check_positive(c.num_hidden_layers, "num_hidden_layers", source);
  check_positive(c.num_attention_heads, "num_attention_heads", source);
  check_positive(c.intermediate_size, "intermediate_size", source);
  check_positive(c.max_position_embeddings, "max_position_embeddings", source);
  check_positive(c.type_vocab_size, "type_vocab_size", source);
  FID_CHECK(c.hidden_size % c.num_attention_heads == 0, source, ": hidden_size ", c.hidden_size,
            " is not a multiple of num_attention_heads ", c.num_attention_heads);
  FID_CHECK(c.hidden_act == "gelu" || c.hidden_act == "gelu_new" ||
                c.hidden_act == "gelu_pytorch_tanh" || c.hidden_act == "relu",
            source, ": hidden_act '", c.hidden_act,
            "' is not supported (use gelu, gelu_new, gelu_pytorch_tanh or relu)");
  // Absolute positions are the only kind BERT checkpoints of FiD use.
  std::string position_type = "absolute";
  read_opt(j, "position_embedding_type", position_type, source);
  FID_CHECK(position_type == "absolute", source, ": position_embedding_type '", position_type,
            "' is not supported (only 'absolute')");
  return c;
}

void BertConfig::to_json(nlohmann::json& j) const {
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["type_vocab_size"] = type_vocab_size;
  j["pad_token_id"] = pad_token_id;
  j["layer_norm_eps"] = layer_norm_eps;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["initializer_range"] = initializer_range;
  j["hidden_act"] = hidden_act;
  j["position_embedding_type"] = "absolute";
  // HF's BertModel always builds a pooler; the key only matters to us.
  if (!add_pooling_layer) j["add_pooling_layer"] = false;
}

std::string tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kWordPiece: return "wordpiece";
    case TokenizerKind::kSentencePiece: return "sentencepiece";
    default: return "unknown";
  }
}

TokenizerKind detect_tokenizer_kind(const std::string& model_dir) {
  // A sentencepiece model wins: a folder with both was converted from one.
  if (path_exists(join_path(model_dir, "spiece.model"))) return TokenizerKind::kSentencePiece;
  if (path_exists(join_path(model_dir, "vocab.txt"))) return TokenizerKind::kWordPiece;
  return TokenizerKind::kUnknown;
}

RetrieverConfig RetrieverConfig::from_json(const nlohmann::json& j, const std::string& source) {
  RetrieverConfig c;
  c.bert = BertConfig::from_json(j, source);
  read_opt(j, "indexing_dimension", c.indexing_dimension, source);
  read_opt(j, "projection", c.projection, source);
  read_opt(j, "apply_question_mask", c.apply_question_mask, source);
  read_opt(j, "apply_passage_mask", c.apply_passage_mask, source);
  read_opt(j, "extract_cls", c.extract_cls, source);
  read_opt(j, "question_maxlength", c.question_maxlength, source);
  read_opt(j, "passage_maxlength", c.passage_maxlength, source);
  read_opt(j, "score_temperature", c.score_temperature, source);
  read_opt(j, "gold_temperature", c.gold_temperature, source);
  check_positive(c.indexing_dimension, "indexing_dimension", source);
  check_positive(c.question_maxlength, "question_maxlength", source);
  check_positive(c.passage_maxlength, "passage_maxlength", source);
  FID_CHECK(c.score_temperature > 0 && c.gold_temperature > 0, source,
            ": score_temperature and gold_temperature must be positive");
  return c;
}

void RetrieverConfig::to_json(nlohmann::json& j) const {
  bert.to_json(j);
  j["indexing_dimension"] = indexing_dimension;
  j["projection"] = projection;
  j["apply_question_mask"] = apply_question_mask;
  j["apply_passage_mask"] = apply_passage_mask;
  j["extract_cls"] = extract_cls;
  j["question_maxlength"] = question_maxlength;
  j["passage_maxlength"] = passage_maxlength;
  // Written only when set, so that a saved FiD retriever stays byte-for-byte FiD's.
  if (score_temperature != 1.0) j["score_temperature"] = score_temperature;
  if (gold_temperature != 1.0) j["gold_temperature"] = gold_temperature;
}

BertConfig read_bert_config(const std::string& model_dir) {
  const std::string path = join_path(model_dir, "config.json");
  FID_CHECK(path_exists(path), "no config.json in '", model_dir,
            "': give a Hugging Face BERT directory (config.json + model.safetensors or "
            "pytorch_model.bin)");
  return BertConfig::from_json(read_json_file(path), path);
}

RetrieverConfig read_retriever_config(const std::string& model_dir) {
  const std::string path = join_path(model_dir, "config.json");
  FID_CHECK(path_exists(path), "no config.json in '", model_dir,
            "': give a retriever or BERT directory (config.json + model.safetensors or "
            "pytorch_model.bin)");
  RetrieverConfig c = RetrieverConfig::from_json(read_json_file(path), path);
  c.tokenizer = detect_tokenizer_kind(model_dir);
  return c;
}

nlohmann::json bert_config_json(const BertConfig& config) {
  nlohmann::json j = nlohmann::json::object();
  j["architectures"] = {"BertModel"};
  j["model_type"] = "bert";
  config.to_json(j);
  return j;
}

nlohmann::json retriever_config_json(const RetrieverConfig& config) {
  nlohmann::json j = nlohmann::json::object();
  j["architectures"] = {"Retriever"};
  j["model_type"] = "bert";
  config.to_json(j);
  return j;
}

void BertOverrides::apply(BertConfig& c) const {
  if (hidden_size > 0) c.hidden_size = hidden_size;
  if (num_hidden_layers > 0) c.num_hidden_layers = num_hidden_layers;
  if (num_attention_heads > 0) c.num_attention_heads = num_attention_heads;
  if (intermediate_size > 0) c.intermediate_size = intermediate_size;
  if (max_position_embeddings > 0) c.max_position_embeddings = max_position_embeddings;
  if (type_vocab_size > 0) c.type_vocab_size = type_vocab_size;
  if (hidden_dropout_prob >= 0) c.hidden_dropout_prob = hidden_dropout_prob;
  if (attention_probs_dropout_prob >= 0) c.attention_probs_dropout_prob = attention_probs_dropout_prob;
  if (!hidden_act.empty()) c.hidden_act = hidden_act;
}

void RetrieverArch::apply(RetrieverConfig& c) const {
  if (indexing_dimension) c.indexing_dimension = *indexing_dimension;
  if (question_maxlength) c.question_maxlength = *question_maxlength;
  if (passage_maxlength) c.passage_maxlength = *passage_maxlength;
  if (projection) c.projection = *projection;
  if (apply_question_mask) c.apply_question_mask = *apply_question_mask;
  if (apply_passage_mask) c.apply_passage_mask = *apply_passage_mask;
  if (extract_cls) c.extract_cls = *extract_cls;
}

std::string RetrieverArch::conflicts(const RetrieverConfig& c) const {
  std::string out;
  auto check = [&](const char* flag, const auto& given, const auto& recorded, const char* field) {
    if (given && *given != recorded) {
      std::ostringstream line;
      line << std::boolalpha << "\n  " << flag << ": gives " << field << " = " << *given << ", the model records "
           << recorded;
      out += line.str();
    }
  };
  check("--indexing_dimension", indexing_dimension, c.indexing_dimension, "indexing_dimension");
  check("--question_maxlength", question_maxlength, c.question_maxlength, "question_maxlength");
  check("--passage_maxlength", passage_maxlength, c.passage_maxlength, "passage_maxlength");
  check("--no_projection", projection, c.projection, "projection");
  check("--no_question_mask", apply_question_mask, c.apply_question_mask, "apply_question_mask");
  check("--no_passage_mask", apply_passage_mask, c.apply_passage_mask, "apply_passage_mask");
  check("--extract_cls", extract_cls, c.extract_cls, "extract_cls");
  return out;
}

RetrieverConfig fid_retriever_defaults() {
  RetrieverConfig c;
  c.indexing_dimension = 768;
  c.projection = true;
  c.apply_question_mask = true;
  c.apply_passage_mask = true;
  c.extract_cls = false;
  c.question_maxlength = 40;
  c.passage_maxlength = 200;
  return c;
}

bool is_retriever_directory(const std::string& dir) {
  const std::string path = join_path(dir, "config.json");
  FID_CHECK(path_exists(path), "model directory '", dir, "' has no config.json");
  return read_json_file(path).contains("indexing_dimension");
}

RetrieverConfig make_retriever_config(const std::string& config_file, const BertOverrides& overrides,
                                      int64_t vocab_size) {
  RetrieverConfig c;
  if (!config_file.empty()) {
    const std::string path = is_directory(config_file) ? join_path(config_file, "config.json") : config_file;
    c = RetrieverConfig::from_json(read_json_file(path), path);
  }
  overrides.apply(c.bert);
  if (vocab_size > 0) c.bert.vocab_size = vocab_size;
  // Round trip through JSON: the same checks as a config file gets.
  nlohmann::json j;
  c.to_json(j);
  RetrieverConfig checked = RetrieverConfig::from_json(j, "the init-model flags");
  checked.tokenizer = c.tokenizer;
  return checked;
}

}  // namespace fid::model
