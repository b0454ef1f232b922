// Saving and reloading T5 directories, errors for wrong keys, shapes and
// config fields, initialisation, and gradient checkpointing.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "common/error.h"
#include "common/files.h"
#include "model/autocast.h"
#include "model/fid.h"
#include "model/safetensors.h"
#include "model/t5_io.h"
#include "model/weight_store.h"
#include "support/test_util.h"
#include "tiny_t5.h"

using namespace fid::model;
using fid::testing::TempDir;
using fid::testing::fixtures_dir;

namespace {

using fid::testing::error_of;

struct Batch {
  at::Tensor ids, mask, labels;
};

Batch make_batch(int64_t vocab, int64_t b = 2, int64_t n = 3, int64_t l = 12, int64_t t = 5) {
  at::manual_seed(7);
  Batch x;
  x.ids = at::randint(2, vocab, {b, n, l}, at::kLong);
  x.mask = at::ones({b, n, l}, at::kLong);
  x.mask.narrow(2, l - 3, 3).zero_();  // some padding
  x.labels = at::randint(2, vocab, {b, t}, at::kLong);
  x.labels.select(0, 1).narrow(0, t - 2, 2).fill_(-100);
  return x;
}

void copy_dir_files(const std::string& from, const std::string& to) {
  fid::make_directories(to);
  for (const char* f : {"config.json", "model.safetensors"})
    fid::write_file_atomic(to + "/" + f, fid::read_file(from + "/" + f));
}

}  // namespace

TEST(T5Save, RoundTripGivesIdenticalOutputs) {
  for (const char* variant : {"t5_v1_0", "t5_v1_1", "t5_v302"}) {
    SCOPED_TRACE(variant);
    auto model = load_t5(fixtures_dir() + "/" + variant);
    TempDir dir;
    save_t5(*model, dir.path(), fixtures_dir() + "/t5_tokenizer/spiece.model");
    EXPECT_EQ(fid::read_file(dir.file("spiece.model")),
              fid::read_file(fixtures_dir() + "/t5_tokenizer/spiece.model"));
    auto keys = read_safetensors_header(dir.file("model.safetensors"));
    EXPECT_TRUE(keys.count("shared.weight"));
    EXPECT_TRUE(keys.count("encoder.block.0.layer.0.SelfAttention.q.weight"));  // plain T5 names
    EXPECT_FALSE(keys.count("encoder.embed_tokens.weight"));
    EXPECT_EQ(keys.count("lm_head.weight"), model->config().tie_word_embeddings ? 0u : 1u);
    for (const auto& [k, info] : keys) EXPECT_EQ(k.find("module"), std::string::npos) << k;
    auto cfg = fid::read_json_file(dir.file("config.json"));
    EXPECT_EQ(cfg["model_type"], "t5");
    EXPECT_EQ(cfg["fid_convention"], to_string(model->config().convention));

    auto again = load_t5(dir.path());
    EXPECT_EQ(again->config().convention, model->config().convention);
    EXPECT_EQ(again->config().tokenizer_appends_eos, model->config().tokenizer_appends_eos);
    FidReader a(model), b(again);
    Batch x = make_batch(model->config().vocab_size);
    at::NoGradGuard ng;
    EXPECT_TRUE(at::equal(a.forward(x.ids, x.mask, x.labels).logits,
                          b.forward(x.ids, x.mask, x.labels).logits));
    EXPECT_TRUE(at::equal(a.generate(x.ids, x.mask, 8).ids, b.generate(x.ids, x.mask, 8).ids));
  }
}

TEST(T5Save, BFloat16OnDiskLoadsAsFloat32) {
  auto model = load_t5(fixtures_dir() + "/t5_v1_1");
  TempDir dir;
  save_t5(*model, dir.path(), "", at::kBFloat16);
  EXPECT_EQ(read_safetensors_header(dir.file("model.safetensors"))["shared.weight"].dtype, "BF16");
  auto again = load_t5(dir.path());
  EXPECT_EQ(again->shared->weight.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(again->shared->weight, model->shared->weight.to(at::kBFloat16).to(at::kFloat)));
}

TEST(T5Load, WrongKeyShapeOrConfigFieldIsNamed) {
  const std::string src = fixtures_dir() + "/t5_v1_0";
  TensorMap w = read_safetensors(src + "/model.safetensors");
  {  // a renamed key: one missing, one unexpected
    TempDir dir;
    copy_dir_files(src, dir.path());
    TensorMap bad = w;
    bad["encoder.block.1.layer.0.SelfAttention.qq.weight"] = bad["encoder.block.1.layer.0.SelfAttention.q.weight"];
    bad.erase("encoder.block.1.layer.0.SelfAttention.q.weight");
    write_safetensors(dir.file("model.safetensors"), bad);
    const std::string err = error_of([&] { load_t5(dir.path()); });
    EXPECT_NE(err.find("encoder.block.1.layer.0.SelfAttention.qq.weight"), std::string::npos) << err;
    EXPECT_NE(err.find("encoder.block.1.layer.0.SelfAttention.q.weight"), std::string::npos) << err;
    EXPECT_NE(err.find(dir.file("model.safetensors")), std::string::npos) << err;
  }
  {  // a wrong shape
    TempDir dir;
    copy_dir_files(src, dir.path());
    TensorMap bad = w;
    bad["decoder.block.0.layer.2.DenseReluDense.wi.weight"] = at::zeros({7, 64});
    write_safetensors(dir.file("model.safetensors"), bad);
    const std::string err = error_of([&] { load_t5(dir.path()); });
    EXPECT_NE(err.find("decoder.block.0.layer.2.DenseReluDense.wi.weight: checkpoint [7, 64] vs model [128, 64]"),
              std::string::npos)
        << err;
  }
  {  // config fields: wrong type, impossible value, unknown activation
    for (auto [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
             {"d_model", "wide"}, {"num_heads", 0}, {"feed_forward_proj", "gated-tanh"}, {"eos_token_id", 9999}}) {
      TempDir dir;
      copy_dir_files(src, dir.path());
      auto cfg = fid::read_json_file(dir.file("config.json"));
      cfg[field] = value;
      fid::write_json_atomic(dir.file("config.json"), cfg);
      const std::string err = error_of([&] { load_t5(dir.path()); });
      EXPECT_NE(err.find("'" + field + "'"), std::string::npos) << field << ": " << err;
    }
  }
  {  // a config that disagrees with the weights: every mis-shaped tensor listed
    TempDir dir;
    copy_dir_files(src, dir.path());
    auto cfg = fid::read_json_file(dir.file("config.json"));
    cfg["d_ff"] = 96;
    fid::write_json_atomic(dir.file("config.json"), cfg);
    const std::string err = error_of([&] { load_t5(dir.path()); });
    EXPECT_NE(err.find("encoder.block.0.layer.1.DenseReluDense.wi.weight: checkpoint [128, 64] vs model [96, 64]"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("decoder.block.1.layer.2.DenseReluDense.wo.weight"), std::string::npos) << err;
  }
}

TEST(T5Load, FidWrappedAndPlainNamesGiveTheSameModel) {
  // t5_v302 stores wrapped names; unwrapped names must load to the same weights.
  TensorMap w = read_safetensors(fixtures_dir() + "/t5_v302/model.safetensors");
  TensorMap plain;
  for (const auto& [k, v] : w) plain[unwrap_fid_key(k)] = v;
  auto a = load_t5(fixtures_dir() + "/t5_v302");
  auto b = build_t5(a->config(), plain, "plain", true);
  for (const auto& [k, v] : module_weights(*a)) EXPECT_TRUE(at::equal(v, module_weights(*b).at(k))) << k;
}

TEST(T5Init, FollowsTransformersStd) {
  T5Config c = fid::testing::tiny_t5_config("gated-gelu", false);
  c.d_model = 64;
  c.d_kv = 16;
  c.d_ff = 256;
  c.vocab_size = 2000;
  T5Model m(c);
  init_t5_weights(m, 3);
  auto std_of = [](const at::Tensor& t) { return t.std().item<double>(); };
  EXPECT_NEAR(std_of(m.shared->weight), 1.0, 0.05);
  EXPECT_NEAR(std_of(m.lm_head->weight), 1.0, 0.05);
  auto& sa = *m.encoder->blocks[0]->self_attn->SelfAttention;
  EXPECT_NEAR(std_of(sa.q->weight), std::pow(64.0 * 16, -0.5), 0.01);
  EXPECT_NEAR(std_of(sa.k->weight), std::pow(64.0, -0.5), 0.01);
  EXPECT_NEAR(std_of(m.decoder->blocks[1]->ff->DenseReluDense->wo->weight), std::pow(256.0, -0.5), 0.01);
  EXPECT_TRUE(at::equal(m.encoder->final_layer_norm->weight, at::ones({64})));
  T5Model m2(c);
  init_t5_weights(m2, 3);  // same seed, same weights
  EXPECT_TRUE(at::equal(m.shared->weight, m2.shared->weight));
}

namespace {
std::map<std::string, at::Tensor> grads_of(T5Model& m, const Batch& x, bool checkpoint, uint64_t seed) {
  m.zero_grad();
  m.train();
  m.set_gradient_checkpointing(checkpoint);
  at::manual_seed(seed);
  FidReader r(std::shared_ptr<T5Model>(&m, [](T5Model*) {}));
  FidOutput out = r.forward(x.ids, x.mask, x.labels);
  out.loss.backward();
  std::map<std::string, at::Tensor> g;
  for (const auto& p : m.named_parameters()) {
    EXPECT_TRUE(p.value().grad().defined()) << p.key();
    if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  }
  g["loss"] = out.loss.detach().reshape({1});
  return g;
}
}  // namespace

TEST(T5Checkpointing, SameGradientsWithAndWithout) {
  for (double dropout : {0.0, 0.2}) {
    for (const char* ffn : {"relu", "gated-gelu"}) {
      SCOPED_TRACE(std::string(ffn) + " dropout " + std::to_string(dropout));
      T5Config c = fid::testing::tiny_t5_config(ffn, std::string(ffn) == "relu");
      c.dropout_rate = dropout;
      T5Model m(c);
      init_t5_weights(m, 11);
      Batch x = make_batch(c.vocab_size);
      auto plain = grads_of(m, x, false, 5);
      auto ckpt = grads_of(m, x, true, 5);
      ASSERT_EQ(plain.size(), ckpt.size());
      for (const auto& [k, g] : plain) {
        EXPECT_LT((g - ckpt.at(k)).abs().max().item<double>(), 1e-5) << k;
      }
      // The encoder graph really goes through the recomputing function.
      m.set_gradient_checkpointing(true);
      at::Tensor enc = m.encode(x.ids.reshape({-1, x.ids.size(2)}), x.mask.reshape({-1, x.ids.size(2)}));
      int found = 0;
      std::vector<torch::autograd::Node*> todo{enc.grad_fn().get()};
      std::set<torch::autograd::Node*> seen;
      while (!todo.empty()) {
        auto* node = todo.back();
        todo.pop_back();
        if (node == nullptr || !seen.insert(node).second) continue;
        if (node->name().find("EncoderBlockCheckpoint") != std::string::npos) ++found;
        for (const auto& e : node->next_edges()) todo.push_back(e.function.get());
      }
      EXPECT_EQ(found, c.num_layers);
      // Block parameters really receive gradients through the recomputation.
      EXPECT_GT(ckpt.at("encoder.block.1.layer.0.SelfAttention.q.weight").abs().sum().item<double>(), 0.0);
      EXPECT_GT(ckpt.at("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight").abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(T5Gradients, TiedEmbeddingGradientIsDenseAndComplete) {
  // The tied model's lookups give sparse gradients that are summed into the
  // LM head's dense one. Reference: the untied model with lm_head = shared *
  // d^-0.5 computes the same loss, and the tied gradient is the sum of its two.
  T5Config c = fid::testing::tiny_t5_config("relu", true);
  T5Model tied(c);
  init_t5_weights(tied, 21);
  T5Config cu = c;
  cu.tie_word_embeddings = false;
  T5Model untied(cu);
  {
    at::NoGradGuard ng;
    auto src = tied.named_parameters();
    for (auto& p : untied.named_parameters())
      if (src.contains(p.key())) p.value().copy_(src[p.key()]);
    untied.lm_head->weight.copy_(tied.shared->weight * std::pow(16.0, -0.5));
  }
  Batch x = make_batch(c.vocab_size);
  auto loss_of = [&](T5Model& m) {
    m.zero_grad();
    FidReader r(std::shared_ptr<T5Model>(&m, [](T5Model*) {}));
    at::Tensor loss = r.forward(x.ids, x.mask, x.labels).loss;
    loss.backward();
    return loss.item<double>();
  };
  EXPECT_NEAR(loss_of(tied), loss_of(untied), 1e-6);
  const at::Tensor g = tied.shared->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.layout(), at::kStrided);
  at::Tensor want = untied.shared->weight.grad() + untied.lm_head->weight.grad() * std::pow(16.0, -0.5);
  EXPECT_LT((g - want).abs().max().item<double>(), 1e-6);
  // The lookups' part is there: rows of input tokens differ from the LM head's part alone.
  EXPECT_GT(untied.shared->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(T5Checkpointing, ReplaysTheForwardsAutocastState) {
  // The loss is computed under bf16 autocast and backward runs after the
  // scope has closed, as a trainer does: the recomputed blocks must still run
  // in bf16, or their gradients belong to a different (float32) forward.
  T5Config c = fid::testing::tiny_t5_config("relu", true);
  c.dropout_rate = 0.1;
  T5Model m(c);
  init_t5_weights(m, 12);
  Batch x = make_batch(c.vocab_size);
  FidReader r(std::shared_ptr<T5Model>(&m, [](T5Model*) {}));
  auto grads = [&](bool checkpoint) {
    m.zero_grad();
    m.train();
    m.set_gradient_checkpointing(checkpoint);
    at::manual_seed(5);
    at::Tensor loss;
    {
      AutocastScope bf16(Precision::kBf16);
      loss = r.forward(x.ids, x.mask, x.labels).loss;
    }
    loss.backward();
    std::map<std::string, at::Tensor> g;
    for (const auto& p : m.named_parameters()) g[p.key()] = p.value().grad().clone();
    return g;
  };
  auto plain = grads(false), ckpt = grads(true);
  for (const auto& [k, g] : plain) {
    const double scale = g.abs().max().item<double>() + 1e-6;
    EXPECT_LT((g - ckpt.at(k)).abs().max().item<double>() / scale, 1e-4) << k;
  }
}

TEST(T5ConfigTest, ConventionNamesAndDefaults) {
  EXPECT_EQ(parse_t5_convention("transformers-4", "c"), T5Convention::kHf4);
  EXPECT_EQ(parse_t5_convention("v4", "c"), T5Convention::kHf4);
  EXPECT_EQ(parse_t5_convention("transformers-3.0.2", "c"), T5Convention::kV302);
  EXPECT_EQ(parse_t5_convention("v302", "c"), T5Convention::kV302);
  const std::string err = error_of([] { parse_t5_convention("5", "my/config.json"); });
  EXPECT_NE(err.find("'fid_convention'"), std::string::npos) << err;
  EXPECT_NE(err.find("my/config.json"), std::string::npos) << err;
  // 3.0.2's config has no num_decoder_layers: it defaults to num_layers.
  T5Config c = T5Config::from_json({{"num_layers", 3}, {"vocab_size", 100}}, "mem");
  EXPECT_EQ(c.num_decoder_layers, 3);
  EXPECT_EQ(c.convention, T5Convention::kHf4);
  EXPECT_TRUE(c.tokenizer_appends_eos);
  T5Config r = T5Config::from_json(c.to_json(), "round trip");
  EXPECT_EQ(r.to_json(), c.to_json());
}

TEST(T5Precision, AutocastScopeRunsProductsInBf16AndRestores) {
  EXPECT_EQ(parse_precision("fp32", "--precision"), Precision::kFp32);
  EXPECT_EQ(parse_precision("bf16", "--precision"), Precision::kBf16);
  EXPECT_EQ(parse_precision("fp16", "--precision"), Precision::kFp16);
  const std::string err = error_of([] { parse_precision("fp8", "--precision"); });
  EXPECT_NE(err.find("--precision"), std::string::npos) << err;
  EXPECT_NE(err.find("fp8"), std::string::npos) << err;
  // LibTorch's CPU autocast has no float16: refused, naming both flags.
  const std::string cpu = error_of([] { AutocastScope s(Precision::kFp16, c10::DeviceType::CPU); });
  EXPECT_NE(cpu.find("--precision fp16 needs --device cuda"), std::string::npos) << cpu;

  T5Config c = fid::testing::tiny_t5_config();
  auto model = std::make_shared<T5Model>(c);
  init_t5_weights(*model, 1);
  FidReader reader(model);
  Batch x = make_batch(c.vocab_size);
  at::NoGradGuard ng;
  at::Tensor fp32 = reader.forward(x.ids, x.mask, x.labels).logits;
  at::Tensor bf16;
  {
    AutocastScope scope(Precision::kBf16);
    bf16 = reader.forward(x.ids, x.mask, x.labels).logits;
  }
  EXPECT_EQ(fp32.scalar_type(), at::kFloat);
  EXPECT_EQ(bf16.scalar_type(), at::kBFloat16);  // the LM head ran in bf16
  const double diff = (bf16.to(at::kFloat) - fp32).abs().max().item<double>();
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 0.1 * fp32.abs().max().item<double>());
  // Outside the scope: float32 again, the same logits as before.
  EXPECT_TRUE(at::equal(reader.forward(x.ids, x.mask, x.labels).logits, fp32));
  { AutocastScope off(Precision::kFp32); EXPECT_TRUE(at::equal(reader.forward(x.ids, x.mask, x.labels).logits, fp32)); }
}
