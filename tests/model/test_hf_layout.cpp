// A directory saved by fid has the layout Hugging Face transformers reads, as
// seen in directories transformers itself wrote (fixtures t5_v1_0, t5_v1_1,
// save_pretrained of 4.28): the same file names, the same safetensors keys
// with the same shapes and dtypes and the "format": "pt" metadata that
// from_pretrained requires, and the same value for every config.json field
// that T5Config reads. transformers is not installed here, so this compares
// layouts rather than loading the directory in Python.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/files.h"
#include "model/safetensors.h"
#include "model/t5_io.h"
#include "support/test_util.h"

using namespace fid::model;
using fid::testing::fixtures_dir;
using fid::testing::TempDir;

namespace {

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// The fields transformers' T5Config and PretrainedConfig take from
// config.json for T5ForConditionalGeneration.
const char* const kT5Fields[] = {
    "architectures", "model_type", "is_encoder_decoder", "vocab_size", "d_model", "d_kv", "d_ff", "num_layers",
    "num_decoder_layers", "num_heads", "relative_attention_num_buckets", "relative_attention_max_distance",
    "dropout_rate", "layer_norm_epsilon", "initializer_factor", "feed_forward_proj", "dense_act_fn",
    "is_gated_act", "tie_word_embeddings", "decoder_start_token_id", "pad_token_id", "eos_token_id",
    "use_cache"};

}  // namespace

TEST(HfLayout, SavedDirectoryMatchesTransformersOwn) {
  for (const char* variant : {"t5_v1_0", "t5_v1_1"}) {
    SCOPED_TRACE(variant);
    const std::string hf = fixtures_dir() + "/" + variant;
    auto model = load_t5(hf);
    TempDir dir;
    save_t5(*model, dir.path());
    EXPECT_EQ(files_in(dir.path()), files_in(hf));

    const auto want = read_safetensors_header(hf + "/model.safetensors");
    const auto got = read_safetensors_header(dir.file("model.safetensors"));
    std::set<std::string> want_keys, got_keys;
    for (const auto& [k, info] : want) want_keys.insert(k);
    for (const auto& [k, info] : got) got_keys.insert(k);
    EXPECT_EQ(got_keys, want_keys);  // tied tensors stored once, under the same name
    for (const auto& [k, info] : want) {
      auto it = got.find(k);
      if (it == got.end()) continue;
      EXPECT_EQ(it->second.shape, info.shape) << k;
      EXPECT_EQ(it->second.dtype, info.dtype) << k;
    }
    EXPECT_EQ(read_safetensors_metadata(hf + "/model.safetensors").at("format"), "pt");
    EXPECT_EQ(read_safetensors_metadata(dir.file("model.safetensors")).at("format"), "pt");

    const auto want_cfg = fid::read_json_file(hf + "/config.json");
    const auto got_cfg = fid::read_json_file(dir.file("config.json"));
    for (const char* f : kT5Fields) {
      ASSERT_TRUE(want_cfg.contains(f)) << f;
      ASSERT_TRUE(got_cfg.contains(f)) << f;
      EXPECT_EQ(got_cfg[f], want_cfg[f]) << f;
    }
    // Anything else we write is ours (transformers keeps unknown fields as
    // attributes and ignores them).
    for (const auto& [k, v] : got_cfg.items())
      EXPECT_TRUE(want_cfg.contains(k) || k.rfind("fid_", 0) == 0) << "unexpected config field " << k;
  }
}

TEST(HfLayout, TokenizerFileHasTheNameT5TokenizerReads) {
  auto model = load_t5(fixtures_dir() + "/t5_v1_1");
  TempDir dir;
  save_t5(*model, dir.path(), fixtures_dir() + "/t5_tokenizer/spiece.model");
  // T5Tokenizer's vocab_files_names: {"vocab_file": "spiece.model"}.
  EXPECT_EQ(files_in(dir.path()), (std::set<std::string>{"config.json", "model.safetensors", "spiece.model"}));
}
