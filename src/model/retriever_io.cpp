// BERT / retriever directories <-> modules.
#include "model/retriever_io.h"

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "model/weight_store.h"

namespace fid::model {

std::string bert_checkpoint_key(const std::string& key) {
  std::string k = starts_with(key, "bert.") ? key.substr(5) : key;
  // Pre-training heads (cls.predictions, cls.seq_relationship) have no place in BertModel.
  if (starts_with(k, "cls.")) return "";
  // transformers < 4.31 saves position_ids as a buffer; positions are 0..L-1 here.
  if (k == "embeddings.position_ids") return "";
  if (ends_with(k, "LayerNorm.gamma")) return k.substr(0, k.size() - 5) + "weight";
  if (ends_with(k, "LayerNorm.beta")) return k.substr(0, k.size() - 4) + "bias";
  return k;
}

std::string retriever_checkpoint_key(const std::string& key) {
  if (starts_with(key, "model.")) {
    std::string inner = bert_checkpoint_key(key.substr(6));
    return inner.empty() ? "" : "model." + inner;
  }
  return key;
}

bool has_pooler(const TensorMap& tensors, const std::string& prefix) {
  return tensors.count(prefix + "pooler.dense.weight") > 0 ||
         tensors.count(prefix + "bert.pooler.dense.weight") > 0;
}

void load_bert_weights(BertModelImpl& model, const TensorMap& tensors, const std::string& source) {
  load_weights(model, tensors, source, bert_checkpoint_key);
}

void load_retriever_weights(RetrieverImpl& retriever, const TensorMap& tensors,
                            const std::string& source) {
  load_weights(retriever, tensors, source, retriever_checkpoint_key);
}

BertModel load_bert(const std::string& dir) {
  BertConfig config = read_bert_config(dir);
  std::string file;
  TensorMap tensors = read_model_weights(dir, &file);
  // A checkpoint saved without the pooler builds a model without one, rather
  // than leaving a randomly initialised pooler behind.
  config.add_pooling_layer = has_pooler(tensors, "");
  BertModel model(config);
  load_bert_weights(*model, tensors, file);
  return model;
}

Retriever load_retriever(const std::string& dir) {
  RetrieverConfig config = read_retriever_config(dir);
  std::string file;
  TensorMap tensors = read_model_weights(dir, &file);
  FID_CHECK(tensors.count("model.embeddings.word_embeddings.weight") > 0, file,
            " is not a retriever checkpoint (no model.embeddings.word_embeddings.weight); "
            "a plain BERT directory has to be turned into a retriever first "
            "(initialisation from BERT, as FiD's initialize_wBERT)");
  config.bert.add_pooling_layer = has_pooler(tensors, "model.");
  FID_CHECK(!config.projection || tensors.count("proj.weight") > 0, file,
            " has no proj.weight but ", join_path(dir, "config.json"),
            " says projection=true; set projection to false or use a checkpoint with the head");
  Retriever retriever(config);
  load_retriever_weights(*retriever, tensors, file);
  return retriever;
}

Retriever retriever_from_bert(const std::string& bert_dir, const RetrieverConfig& head,
                              uint64_t seed) {
  RetrieverConfig config = head;
  config.bert = read_bert_config(bert_dir);
  config.tokenizer = detect_tokenizer_kind(bert_dir);
  std::string file;
  TensorMap tensors = read_model_weights(bert_dir, &file);
  config.bert.add_pooling_layer = has_pooler(tensors, "");
  Retriever retriever(config);
  init_retriever_weights(*retriever, seed);
  load_bert_weights(*retriever->model, tensors, file);
  return retriever;
}

int copy_tokenizer_files(const std::string& from, const std::string& to) {
  int copied = 0;
  for (const char* name : {"vocab.txt", "spiece.model", "tokenizer_config.json",
                           "special_tokens_map.json"}) {
    const std::string src = join_path(from, name);
    if (!path_exists(src)) continue;
    write_file_atomic(join_path(to, name), read_file(src));
    ++copied;
  }
  return copied;
}

namespace {

void save_module(torch::nn::Module& module, const nlohmann::json& config, const std::string& dir,
                 const std::string& tokenizer_dir, std::optional<at::ScalarType> dtype) {
  make_directories(dir);
  TensorMap tensors;
  for (auto& [name, t] : module_weights(module)) tensors[name] = t.to(at::kCPU).contiguous();
  write_safetensors(join_path(dir, "model.safetensors"), tensors, dtype);
  write_json_atomic(join_path(dir, "config.json"), config);
  if (!tokenizer_dir.empty() && copy_tokenizer_files(tokenizer_dir, dir) == 0)
    log::warn("no tokenizer files (vocab.txt, spiece.model) in ", tokenizer_dir, "; ", dir,
              " was saved without a tokenizer");
}

}  // namespace

void save_retriever(RetrieverImpl& retriever, const std::string& dir,
                    const std::string& tokenizer_dir, std::optional<at::ScalarType> dtype) {
  save_module(retriever, retriever_config_json(retriever.config()), dir, tokenizer_dir, dtype);
}

void save_bert(BertModelImpl& model, const std::string& dir, const std::string& tokenizer_dir,
               std::optional<at::ScalarType> dtype) {
  save_module(model, bert_config_json(model.config()), dir, tokenizer_dir, dtype);
}

}  // namespace fid::model
