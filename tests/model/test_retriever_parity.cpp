// Parity of BERT and the FiD retriever with the reference outputs of
// transformers 4.28.1 / FiD (tests/data/fixtures). Data-driven: every input
// group of bert_model_outputs.safetensors, every variant of
// retriever_variants.json and every group of retriever_outputs.safetensors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "common/files.h"
#include "model/bert.h"
#include "model/retriever.h"
#include "model/retriever_io.h"
#include "model/safetensors.h"
#include "retriever_test_util.h"

namespace fid {
namespace {
using namespace fid::testing;
using model::TensorMap;

constexpr double kTol = 1e-4;

std::string bert_dir() { return join_path(fixtures_dir(), "bert"); }

// Group prefixes ("single", "pair", ...) of tensors named "<group>.<field>".
std::set<std::string> groups_of(const TensorMap& tensors) {
  std::set<std::string> out;
  for (const auto& [name, t] : tensors) out.insert(name.substr(0, name.rfind('.')));
  return out;
}

void expect_bert_outputs(model::BertModelImpl& bert, const TensorMap& ref, const std::string& tag) {
  const auto groups = groups_of(ref);
  ASSERT_FALSE(groups.empty());
  at::NoGradGuard no_grad;
  for (const auto& g : groups) {
    SCOPED_TRACE(tag + " group " + g);
    auto out = bert.forward(ref.at(g + ".input_ids"), ref.at(g + ".attention_mask"),
                            ref.at(g + ".token_type_ids"));
    const double dh = max_abs_diff(out.last_hidden_state, ref.at(g + ".last_hidden_state"));
    EXPECT_LT(dh, kTol);
    ASSERT_TRUE(out.pooler_output.defined());
    const double dp = max_abs_diff(out.pooler_output, ref.at(g + ".pooler_output"));
    EXPECT_LT(dp, kTol);
    std::cout << tag << " " << g << ": hidden diff " << dh << ", pooler diff " << dp << "\n";
  }
}

TEST(BertParity, ParameterNamesEqualCheckpointKeys) {
  const auto header = model::read_safetensors_header(join_path(bert_dir(), "model.safetensors"));
  model::BertModel bert(model::read_bert_config(bert_dir()));
  std::map<std::string, std::vector<int64_t>> params;
  for (const auto& p : bert->named_parameters()) params[p.key()] = p.value().sizes().vec();
  ASSERT_EQ(params.size(), header.size());
  for (const auto& [name, info] : header) {
    ASSERT_TRUE(params.count(name)) << name;
    EXPECT_EQ(params[name], info.shape) << name;
  }
}

TEST(BertParity, HiddenStatesAndPoolerFromSafetensors) {
  model::BertModel bert = model::load_bert(bert_dir());
  bert->eval();
  const TensorMap ref = model::read_safetensors(join_path(fixtures_dir(), "bert_model_outputs.safetensors"));
  expect_bert_outputs(*bert, ref, "safetensors");
}

// The module-by-module layer (training's path) against the same reference:
// the fused inference layer above must not be the only one checked.
TEST(BertParity, ReferenceLayerPathMatchesToo) {
  model::BertModel bert = model::load_bert(bert_dir());
  bert->eval();
  const TensorMap ref = model::read_safetensors(join_path(fixtures_dir(), "bert_model_outputs.safetensors"));
  model::set_bert_fused_inference(false);
  expect_bert_outputs(*bert, ref, "module-by-module");
  model::set_bert_fused_inference(true);
}

// Fused against module-by-module where the reference has no case: padding in
// the middle of batches, a head size whose 1/sqrt(d) is not a power of two,
// the tanh GELU, and a batch of one.
TEST(BertParity, FusedInferenceLayerEqualsTheModulesOnOtherShapes) {
  for (const char* act : {"gelu", "gelu_new"}) {
    model::BertConfig c;
    c.hidden_size = 48;
    c.num_attention_heads = 6;  // head size 8
    c.intermediate_size = 96;
    c.num_hidden_layers = 2;
    c.vocab_size = 300;
    c.hidden_act = act;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0;
    model::BertModel bert(c);
    model::init_bert_weights(*bert, 11);
    bert->eval();
    at::manual_seed(3);
    for (int64_t b : {1, 5}) {
      at::Tensor ids = at::randint(1, 300, {b, 23}, at::kLong);
      at::Tensor mask = at::ones({b, 23}, at::kLong);
      if (b > 1) mask.slice(1, 7).select(0, 1).zero_(), mask.slice(1, 19).select(0, 4).zero_();
      at::NoGradGuard no_grad;
      const at::Tensor fused = bert->forward(ids, mask).last_hidden_state;
      model::set_bert_fused_inference(false);
      const at::Tensor modules = bert->forward(ids, mask).last_hidden_state;
      model::set_bert_fused_inference(true);
      EXPECT_LT(max_abs_diff(fused, modules), 2e-6) << act << " batch " << b;
    }
  }
}

TEST(BertParity, PytorchModelBinGivesTheSameModel) {
  const TensorMap st = model::read_safetensors(join_path(bert_dir(), "model.safetensors"));
  const TensorMap bin = model::read_torch_pickle(join_path(bert_dir(), "pytorch_model.bin"));
  model::BertModel bert(model::read_bert_config(bert_dir()));
  model::load_bert_weights(*bert, bin, "pytorch_model.bin");
  bert->eval();
  // Every parameter equals the safetensors copy bit for bit...
  for (const auto& p : bert->named_parameters()) {
    ASSERT_TRUE(st.count(p.key())) << p.key();
    EXPECT_TRUE(at::equal(p.value(), st.at(p.key()))) << p.key();
  }
  // ...and the outputs match the reference.
  const TensorMap ref = model::read_safetensors(join_path(fixtures_dir(), "bert_model_outputs.safetensors"));
  expect_bert_outputs(*bert, ref, "pytorch_model.bin");
}

struct Variant {
  bool projection = true;
  int64_t indexing_dimension = 0;
  bool qmask = false, pmask = false, cls = false;
};

// "<proj|noproj>.qmask<0|1>.pmask<0|1>.cls<0|1>": a group of the outputs file
// that retriever_variants.json does not list still gets checked.
Variant parse_variant_name(const std::string& name, int64_t proj_dim) {
  Variant v;
  v.projection = name.rfind("proj.", 0) == 0;
  EXPECT_TRUE(v.projection || name.rfind("noproj.", 0) == 0) << name;
  v.indexing_dimension = v.projection ? proj_dim : 768;
  auto flag = [&](const std::string& key) {
    const size_t at = name.find(key);
    EXPECT_NE(at, std::string::npos) << name << " lacks " << key;
    return at != std::string::npos && name[at + key.size()] == '1';
  };
  v.qmask = flag("qmask");
  v.pmask = flag("pmask");
  v.cls = flag("cls");
  return v;
}

TEST(RetrieverParity, EveryVariantMatchesFid) {
  const std::string fx = fixtures_dir();
  const nlohmann::json listed = read_json_file(join_path(fx, "retriever_variants.json"));
  const TensorMap ref = model::read_safetensors(join_path(fx, "retriever_outputs.safetensors"));
  const int64_t proj_dim = model::read_retriever_config(join_path(fx, "retriever_proj")).indexing_dimension;

  std::map<std::string, Variant> variants;
  for (const auto& j : listed) {
    Variant v;
    v.projection = j.at("projection").get<bool>();
    v.indexing_dimension = j.at("indexing_dimension").get<int64_t>();
    v.qmask = j.at("apply_question_mask").get<bool>();
    v.pmask = j.at("apply_passage_mask").get<bool>();
    v.cls = j.at("extract_cls").get<bool>();
    variants[j.at("name").get<std::string>()] = v;
  }
  for (const auto& g : groups_of(ref))
    if (!variants.count(g)) variants[g] = parse_variant_name(g, proj_dim);
  ASSERT_FALSE(variants.empty());

  const RetrieverInputs in = fixture_retriever_inputs();
  int checked = 0;
  double worst = 0;
  for (const auto& [name, v] : variants) {
    SCOPED_TRACE("variant " + name);
    ASSERT_TRUE(ref.count(name + ".score")) << "no reference outputs for listed variant " << name;
    model::Retriever r(fixture_retriever_config(v.projection, v.indexing_dimension, v.qmask,
                                                v.pmask, v.cls));
    model::load_retriever_weights(*r, fixture_retriever_tensors(v.projection), "fixture retriever");
    r->eval();
    at::NoGradGuard no_grad;
    auto out = r->forward(in.question_ids, in.question_mask, in.passage_ids, in.passage_mask,
                          in.gold_score);
    const double dq = max_abs_diff(out.question_output, ref.at(name + ".question_output"));
    const double dp = max_abs_diff(out.passage_output, ref.at(name + ".passage_output"));
    const double ds = max_abs_diff(out.score, ref.at(name + ".score"));
    const double dl = max_abs_diff(out.loss.reshape({-1}), ref.at(name + ".loss").reshape({-1}));
    EXPECT_LT(dq, kTol);
    EXPECT_LT(dp, kTol);
    EXPECT_LT(ds, kTol);
    EXPECT_LT(dl, kTol);
    worst = std::max({worst, dq, dp, ds, dl});
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(variants.size()));
  std::cout << checked << " retriever variants, worst abs diff " << worst << "\n";
}

}  // namespace
}  // namespace fid
