// Parity with the reference outputs of Hugging Face T5 + FiD (4.28.1 and
// 3.0.2). Data-driven: every fid_reader_<variant>_outputs.safetensors in the
// fixture directory is a case, with model t5_<variant>/, inputs
// fid_inputs[_<variant>].json and summary fid_reader[_<variant>]_summary.json.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "common/files.h"
#include "model/fid.h"
#include "model/safetensors.h"
#include "model/t5_io.h"
#include "support/test_util.h"

using namespace fid::model;
using fid::testing::fixtures_dir;

namespace {

struct Case {
  std::string variant;  // "v1_0"
  std::string model_dir, outputs, inputs, summary, summary_key;
};

std::vector<Case> discover() {
  std::vector<Case> cases;
  const std::string dir = fixtures_dir();
  const std::regex re("fid_reader_(.+)_outputs\\.safetensors");
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, re)) continue;
    Case c;
    c.variant = m[1];
    c.model_dir = dir + "/t5_" + c.variant;
    c.outputs = e.path().string();
    const std::string own_inputs = dir + "/fid_inputs_" + c.variant + ".json";
    c.inputs = fid::path_exists(own_inputs) ? own_inputs : dir + "/fid_inputs.json";
    const std::string own_summary = dir + "/fid_reader_" + c.variant + "_summary.json";
    c.summary = fid::path_exists(own_summary) ? own_summary : dir + "/fid_reader_summary.json";
    c.summary_key = fid::path_exists(own_summary) ? "t5_" + c.variant : c.variant;
    cases.push_back(c);
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.variant < b.variant; });
  return cases;
}

// Nested JSON integer lists -> int64 tensor of the same shape.
at::Tensor json_tensor(const nlohmann::json& j) {
  std::vector<int64_t> shape, flat;
  const nlohmann::json* p = &j;
  while (p->is_array()) {
    shape.push_back(static_cast<int64_t>(p->size()));
    if (p->empty()) break;
    p = &(*p)[0];
  }
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& v) {
    if (v.is_array()) {
      for (const auto& x : v) walk(x);
    } else {
      flat.push_back(v.get<int64_t>());
    }
  };
  walk(j);
  return at::tensor(flat, at::kLong).reshape(shape);
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

class T5Parity : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case& c = GetParam();
    model = load_t5(c.model_dir);
    reader = std::make_unique<FidReader>(model);
    ref = read_safetensors(c.outputs);
    auto in = fid::read_json_file(c.inputs);
    ids = json_tensor(in["passage_ids"]);
    mask = json_tensor(in["passage_mask"]);
    labels = json_tensor(in["target_ids"]);
    summary = fid::read_json_file(c.summary)[c.summary_key];
  }
  std::shared_ptr<T5Model> model;
  std::unique_ptr<FidReader> reader;
  TensorMap ref;
  at::Tensor ids, mask, labels;
  nlohmann::json summary;
};

TEST(T5ParityCases, AllVariantsPresent) {
  // The public fixture set holds these three; a FID_FIXTURES set may hold more.
  std::set<std::string> found;
  for (const auto& c : discover()) found.insert(c.variant);
  if (fixtures_dir() == fid::testing::test_data_dir() + "/fixtures") {
    EXPECT_EQ(found, (std::set<std::string>{"v1_0", "v1_1", "v302"}));
  }
  EXPECT_FALSE(found.empty());
}

TEST_P(T5Parity, EncoderOutputs) {
  at::NoGradGuard ng;
  at::Tensor enc = reader->encode(ids, mask);  // (B, N*L, d)
  const at::Tensor& want = ref.at("encoder_last_hidden_state");
  EXPECT_LT(max_diff(enc.reshape(want.sizes()), want), 1e-4);
}

TEST_P(T5Parity, TeacherForcedLogitsAndLoss) {
  at::NoGradGuard ng;
  const T5Config& c = model->config();
  at::Tensor dec_in = shift_right(labels, c.decoder_start_token_id, c.pad_token_id);
  EXPECT_TRUE(at::equal(dec_in, ref.at("decoder_input_ids")));
  FidOutput out = reader->forward(ids, mask, labels);
  EXPECT_LT(max_diff(out.logits, ref.at("lm_logits")), 1e-4);
  EXPECT_NEAR(out.loss.item<double>(), ref.at("loss").item<double>(), 1e-4);
  EXPECT_NEAR(out.loss.item<double>(), summary["loss"].get<double>(), 1e-4);
}

TEST_P(T5Parity, GreedyGenerationAndScores) {
  FidGeneration gen = reader->generate(ids, mask, 50);
  const at::Tensor& want = ref.at("generated_ids");
  ASSERT_EQ(gen.ids.sizes(), want.sizes()) << gen.ids << want;
  EXPECT_TRUE(at::equal(gen.ids, want)) << gen.ids << want;
  EXPECT_TRUE(at::equal(gen.ids, json_tensor(summary["generated_ids"])));

  // Storage (n_layers, B, H, 1, N*L): compare where the encoder mask is 1.
  const at::Tensor& storage = ref.at("crossattention_score_storage");
  ASSERT_EQ(gen.score_storage.numel(), storage.numel());
  at::Tensor got = gen.score_storage.reshape(storage.sizes());
  at::Tensor keep = mask.reshape({1, mask.size(0), 1, 1, -1}).to(at::kBool).expand(storage.sizes());
  EXPECT_LT(max_diff(got.masked_select(keep), storage.masked_select(keep)), 1e-4);
  EXPECT_LT(max_diff(gen.crossattention_scores, ref.at("crossattention_scores")), 1e-4);
}

TEST_P(T5Parity, CrossAttentionBiasOf302) {
  if (!ref.count("cross_attention_position_bias")) {
    // 4.x: no table in the model either.
    EXPECT_TRUE(model->decoder->blocks[0]->cross_attn->EncDecAttention->relative_attention_bias.is_empty());
    return;
  }
  EXPECT_EQ(model->config().convention, T5Convention::kV302);
  EXPECT_FALSE(model->config().tokenizer_appends_eos);
  const at::Tensor& want = ref.at("cross_attention_position_bias");  // (1, H, T, S)
  at::NoGradGuard ng;
  at::Tensor got = model->decoder->blocks[0]->cross_attn->EncDecAttention->compute_bias(
      want.size(2), want.size(3), /*bidirectional=*/false);
  EXPECT_LT(max_diff(got, want), 1e-6);
  // The score-capturing reference generation differs from the correct one.
  EXPECT_FALSE(at::equal(ref.at("generated_ids"), ref.at("generated_ids_with_score_capture")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, T5Parity, ::testing::ValuesIn(discover()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.variant; });

TEST(RelativeBuckets, MatchTransformers) {
  auto j = fid::read_json_file(fixtures_dir() + "/t5_relative_position_buckets.json");
  at::Tensor rel = json_tensor(j["relative_positions"]);
  ASSERT_GT(j["tables"].size(), 0u);
  for (const auto& t : j["tables"]) {
    const int64_t nb = t["num_buckets"], md = t["max_distance"];
    EXPECT_TRUE(at::equal(relative_position_bucket(rel, true, nb, md), json_tensor(t["encoder_bidirectional"])))
        << nb << " " << md;
    EXPECT_TRUE(at::equal(relative_position_bucket(rel, false, nb, md), json_tensor(t["decoder_unidirectional"])))
        << nb << " " << md;
  }
}

}  // namespace
