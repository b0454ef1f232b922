// Loading and saving BERT and FiD-retriever directories (config.json +
// model.safetensors or pytorch_model.bin + tokenizer files) through the
// strict weight store.
#pragma once
#include <optional>
#include <string>

#include "model/bert.h"
#include "model/retriever.h"
#include "model/safetensors.h"

namespace fid::model {

// A BERT checkpoint key in BertModel's spelling: drops the "bert." prefix of
// BertForPreTraining-style checkpoints and renames the LayerNorm gamma/beta of
// old TF conversions. "" (drop) for task heads (cls.*) and the position_ids buffer.
std::string bert_checkpoint_key(const std::string& key);
// The same for a retriever checkpoint: model.<bert key>, proj.*, norm.*.
std::string retriever_checkpoint_key(const std::string& key);
// True when the checkpoint holds the pooler (under `prefix`, "" or "model.").
bool has_pooler(const TensorMap& tensors, const std::string& prefix);

// Strict copies: every parameter must be present with its shape (errors list
// each missing, unexpected or mis-shaped tensor by name).
void load_bert_weights(BertModelImpl& model, const TensorMap& tensors, const std::string& source);
void load_retriever_weights(RetrieverImpl& retriever, const TensorMap& tensors,
                            const std::string& source);

// A Hugging Face BERT directory (BertModel or BertForPreTraining checkpoint).
BertModel load_bert(const std::string& dir);
// A FiD retriever directory; config.tokenizer records vocab.txt vs spiece.model.
Retriever load_retriever(const std::string& dir);
// FiD's initialize_wBERT: BERT weights from a BERT directory, a fresh head
// (seeded) built from the retriever fields of `head` (its `bert` part is
// replaced by the directory's config).
Retriever retriever_from_bert(const std::string& bert_dir, const RetrieverConfig& head,
                              uint64_t seed);

// Writes config.json and model.safetensors (floating tensors cast to
// `dtype` when given) atomically; copies the tokenizer files of
// `tokenizer_dir` (vocab.txt, spiece.model, tokenizer_config.json,
// special_tokens_map.json) when it is not empty. The directory loads back
// with load_retriever / load_bert and in HF transformers.
void save_retriever(RetrieverImpl& retriever, const std::string& dir,
                    const std::string& tokenizer_dir = "",
                    std::optional<at::ScalarType> dtype = at::kFloat);
void save_bert(BertModelImpl& model, const std::string& dir, const std::string& tokenizer_dir = "",
               std::optional<at::ScalarType> dtype = at::kFloat);
// Copies the tokenizer files that exist in `from` into `to`; returns how many.
int copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace fid::model
