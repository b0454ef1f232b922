// BERT / retriever units: save-load round trips, strict loading errors,
// config checks, masking, loss, initialisation and reduced precision.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/error.h"
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

model::Retriever fixture_retriever(bool qmask = true, bool pmask = true) {
  model::Retriever r(fixture_retriever_config(true, 32, qmask, pmask, false));
  model::load_retriever_weights(*r, fixture_retriever_tensors(true), "fixture retriever");
  r->eval();
  return r;
}

model::RetrieverOutputs run(model::RetrieverImpl& r, const RetrieverInputs& in) {
  at::NoGradGuard no_grad;
  return r.forward(in.question_ids, in.question_mask, in.passage_ids, in.passage_mask, in.gold_score);
}

using fid::testing::error_of;

TEST(RetrieverIo, SaveLoadRoundTrip) {
  TempDir tmp("retriever-io");
  model::Retriever r = fixture_retriever(true, false);
  r->mutable_config().gold_temperature = 0.5;
  const std::string dir = tmp.file("ret");
  model::save_retriever(*r, dir, join_path(fixtures_dir(), "bert"));
  ASSERT_TRUE(path_exists(join_path(dir, "vocab.txt")));

  // config.json carries the retriever fields as FiD's RetrieverConfig names them.
  const auto j = read_json_file(join_path(dir, "config.json"));
  EXPECT_EQ(j.at("indexing_dimension").get<int64_t>(), 32);
  EXPECT_TRUE(j.at("projection").get<bool>());
  EXPECT_TRUE(j.at("apply_question_mask").get<bool>());
  EXPECT_FALSE(j.at("apply_passage_mask").get<bool>());
  EXPECT_EQ(j.at("passage_maxlength").get<int64_t>(), 24);
  EXPECT_EQ(j.at("model_type").get<std::string>(), "bert");

  model::Retriever back = model::load_retriever(dir);
  back->eval();
  EXPECT_EQ(back->config().tokenizer, model::TokenizerKind::kWordPiece);
  EXPECT_EQ(back->config().gold_temperature, 0.5);
  EXPECT_FALSE(back->config().apply_passage_mask);
  EXPECT_EQ(back->config().question_maxlength, 12);
  const auto a = r->named_parameters(), b = back->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(at::equal(p.value(), b[p.key()])) << p.key();
  const auto in = fixture_retriever_inputs();
  auto o1 = run(*r, in), o2 = run(*back, in);
  EXPECT_TRUE(at::equal(o1.passage_output, o2.passage_output));
  EXPECT_TRUE(at::equal(o1.loss, o2.loss));
  // The file holds exactly the module's names, so HF's Retriever loads it.
  const auto header = model::read_safetensors_header(join_path(dir, "model.safetensors"));
  EXPECT_EQ(header.size(), a.size());
  EXPECT_TRUE(header.count("model.encoder.layer.1.output.LayerNorm.bias"));
  EXPECT_TRUE(header.count("norm.weight"));
}

TEST(RetrieverIo, SentencepieceDirectoryIsRecorded) {
  TempDir tmp("retriever-spm");
  model::Retriever r = fixture_retriever();
  model::save_retriever(*r, tmp.path(), join_path(fixtures_dir(), "t5_tokenizer"));
  EXPECT_EQ(model::load_retriever(tmp.path())->config().tokenizer,
            model::TokenizerKind::kSentencePiece);
}

TEST(RetrieverIo, BertSaveLoadAndPytorchBinDirectory) {
  TempDir tmp("bert-io");
  model::BertModel bert = model::load_bert(join_path(fixtures_dir(), "bert"));
  model::save_bert(*bert, tmp.path());
  model::BertModel back = model::load_bert(tmp.path());
  for (const auto& p : bert->named_parameters())
    EXPECT_TRUE(at::equal(p.value(), back->named_parameters()[p.key()])) << p.key();
  // A directory with only pytorch_model.bin (and BertForPreTraining's "bert." prefix) loads too.
  TempDir bin("bert-bin");
  write_file_atomic(bin.file("config.json"), read_file(join_path(fixtures_dir(), "bert/config.json")));
  TensorMap prefixed;
  for (auto& [k, v] : model::read_torch_pickle(join_path(fixtures_dir(), "bert/pytorch_model.bin")))
    prefixed["bert." + k] = v;
  prefixed["cls.seq_relationship.bias"] = at::zeros({2});
  model::BertModel from_prefixed(model::read_bert_config(bin.path()));
  model::load_bert_weights(*from_prefixed, prefixed, "prefixed");
  for (const auto& p : bert->named_parameters())
    EXPECT_TRUE(at::equal(p.value(), from_prefixed->named_parameters()[p.key()])) << p.key();
}

TEST(RetrieverIo, WrongKeyIsNamed) {
  TempDir tmp("retriever-badkey");
  TensorMap t = fixture_retriever_tensors(true);
  t["model.encoder.layer.0.attention.self.qeury.weight"] = t.at("model.encoder.layer.0.attention.self.query.weight");
  t.erase("model.encoder.layer.0.attention.self.query.weight");
  model::write_safetensors(tmp.file("model.safetensors"), t);
  model::save_retriever(*fixture_retriever(), tmp.file("ok"));
  write_file_atomic(tmp.file("config.json"), read_file(tmp.file("ok/config.json")));
  const std::string msg = error_of([&] { model::load_retriever(tmp.path()); });
  EXPECT_NE(msg.find("model.encoder.layer.0.attention.self.query.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("qeury"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST(RetrieverIo, WrongShapeIsNamedWithBothShapes) {
  TensorMap t = fixture_retriever_tensors(true);
  t["proj.weight"] = at::zeros({16, 64});
  model::Retriever r(fixture_retriever_config(true, 32, false, false, false));
  const std::string msg = error_of([&] { model::load_retriever_weights(*r, t, "bad.safetensors"); });
  EXPECT_NE(msg.find("proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[16, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[32, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
}

TEST(RetrieverIo, MissingHeadAndBadConfigAreExplained) {
  TempDir tmp("retriever-nohead");
  model::save_retriever(*fixture_retriever(), tmp.path());
  TensorMap t = fixture_retriever_tensors(false);  // BERT only, config says projection
  model::write_safetensors(tmp.file("model.safetensors"), t);
  std::string msg = error_of([&] { model::load_retriever(tmp.path()); });
  EXPECT_NE(msg.find("proj.weight"), std::string::npos) << msg;

  auto j = read_json_file(tmp.file("config.json"));
  j["num_attention_heads"] = 5;
  msg = error_of([&] { model::RetrieverConfig::from_json(j, "cfg.json"); });
  EXPECT_NE(msg.find("num_attention_heads"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cfg.json"), std::string::npos) << msg;
  j["num_attention_heads"] = 4;
  j["hidden_act"] = "swish";
  msg = error_of([&] { model::RetrieverConfig::from_json(j, "cfg.json"); });
  EXPECT_NE(msg.find("hidden_act"), std::string::npos) << msg;
  j["hidden_act"] = "gelu";
  j["projection"] = "yes";
  msg = error_of([&] { model::RetrieverConfig::from_json(j, "cfg.json"); });
  EXPECT_NE(msg.find("projection"), std::string::npos) << msg;
}

TEST(Retriever, MaskedPassageTokensDoNotMatterWhenMaskApplied) {
  model::Retriever r = fixture_retriever(true, true);
  auto in = fixture_retriever_inputs();
  auto base = run(*r, in);
  // Change every padded token id; with masks applied nothing may move.
  auto changed = in;
  changed.passage_ids = in.passage_ids.masked_fill(in.passage_mask.logical_not(), 7);
  changed.question_ids = in.question_ids.masked_fill(in.question_mask.logical_not(), 7);
  ASSERT_FALSE(at::equal(changed.question_ids, in.question_ids));
  auto out = run(*r, changed);
  EXPECT_LT(max_abs_diff(out.question_output, base.question_output), 1e-6);
  EXPECT_LT(max_abs_diff(out.passage_output, base.passage_output), 1e-6);
  // Without the masks (FiD's default) the padding is attended and averaged.
  model::Retriever nomask = fixture_retriever(false, false);
  EXPECT_GT(max_abs_diff(run(*nomask, changed).question_output, run(*nomask, in).question_output), 1e-4);
}

TEST(Retriever, KlLossTemperaturesAndZeroAtTarget) {
  model::Retriever r = fixture_retriever();
  at::Tensor score = at::tensor({0.5, -1.0, 2.0, 0.0, 0.1, 0.3}, at::kFloat).view({2, 3});
  EXPECT_LT(r->kldivloss(score, score).item<double>(), 1e-7);  // KL(p || p) = 0
  at::Tensor gold = at::tensor({1.7, 0.3, -0.4, 2.0, 1.0, 0.1}, at::kFloat).view({2, 3});
  r->mutable_config().score_temperature = 2.0;
  r->mutable_config().gold_temperature = 0.25;
  at::Tensor p = at::softmax(gold / 0.25, -1);
  at::Tensor expected = (p * (p.log() - at::log_softmax(score / 2.0, -1))).sum() / 6.0;
  EXPECT_NEAR(r->kldivloss(score, gold).item<double>(), expected.item<double>(), 1e-6);
}

// In-batch negatives: one question alone is FiD's loss; with two, each
// question's softmax runs over all 2*N passages and the target is 0 on the
// other question's passages. Written out by hand for B = 2, N = 2, D = 2.
TEST(Retriever, InBatchKlLossScoresEveryPassageOfTheBatch) {
  model::Retriever r = fixture_retriever();
  at::Tensor q = at::tensor({1.0, 0.5, -0.3, 2.0}, at::kFloat).view({2, 2});          // (B, D)
  at::Tensor p = at::tensor({0.2, 1.0, -1.0, 0.4, 0.7, -0.2, 0.1, 1.5}, at::kFloat).view({4, 2});  // (B*N, D)
  at::Tensor gold = at::tensor({1.0, -0.5, 0.2, 0.9}, at::kFloat).view({2, 2});      // (B, N)
  // B = 1: exactly the seed's loss on the question's own passages.
  at::Tensor own0 = model::RetrieverImpl::score(q.slice(0, 0, 1), p.slice(0, 0, 2), 2);
  EXPECT_NEAR(r->in_batch_kldivloss(q.slice(0, 0, 1), p.slice(0, 0, 2), gold.slice(0, 0, 1)).item<double>(),
              r->kldivloss(own0, gold.slice(0, 0, 1)).item<double>(), 1e-7);
  // B = 2 by hand.
  double expected = 0;
  for (int i = 0; i < 2; ++i) {
    at::Tensor all = at::mv(p, q[i]) / std::sqrt(2.0);                    // (4)
    at::Tensor log_p = at::log_softmax(all, 0);
    at::Tensor t = at::softmax(gold[i], 0);                               // (2)
    for (int k = 0; k < 2; ++k) {
      const double tk = t[k].item<double>();
      expected += tk * (std::log(tk) - log_p[2 * i + k].item<double>());
    }
  }
  expected /= 4.0;  // normalised over B*N like the seed's 'mean'
  const double got = r->in_batch_kldivloss(q, p, gold).item<double>();
  EXPECT_NEAR(got, expected, 1e-6 * std::max(1.0, std::abs(expected)));
  // The other question's passages are negatives: the loss exceeds the
  // own-passages-only loss.
  EXPECT_GT(got, r->kldivloss(model::RetrieverImpl::score(q, p, 2), gold).item<double>());
  EXPECT_THROW(r->in_batch_kldivloss(q, p.slice(0, 0, 3), gold), std::exception);
}

TEST(Retriever, RandomInitIsSeededAndFollowsHf) {
  model::RetrieverConfig c = fixture_retriever_config(true, 32, false, false, false);
  model::Retriever a(c), b(c), d(c);
  model::init_retriever_weights(*a, 7);
  model::init_retriever_weights(*b, 7);
  model::init_retriever_weights(*d, 8);
  for (const auto& p : a->named_parameters())
    EXPECT_TRUE(at::equal(p.value(), b->named_parameters()[p.key()])) << p.key();
  at::Tensor w = a->model->encoder->layer[0]->as<model::BertLayerImpl>()->intermediate->dense->weight;
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.002);
  EXPECT_FALSE(at::equal(w, d->model->encoder->layer[0]->as<model::BertLayerImpl>()->intermediate->dense->weight));
  EXPECT_EQ(a->model->embeddings->word_embeddings->weight[0].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(at::equal(a->norm->weight, at::ones({32})));
  EXPECT_LE(a->proj->weight.abs().max().item<double>(), 1.0 / std::sqrt(64.0));
}

TEST(Retriever, GradientsFlowAndSkipThePaddingRow) {
  model::Retriever r = fixture_retriever();
  r->train();
  auto in = fixture_retriever_inputs();
  auto out = r->forward(in.question_ids, in.question_mask, in.passage_ids, in.passage_mask, in.gold_score);
  out.loss.backward();
  at::Tensor g = r->model->embeddings->word_embeddings->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(g[0].abs().sum().item<double>(), 0.0);  // [PAD] = padding_idx, as HF
  EXPECT_GT(r->proj->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(Retriever, Bfloat16EmbeddingsStayClose) {
  model::Retriever r = fixture_retriever();
  auto in = fixture_retriever_inputs();
  auto ref = run(*r, in);
  r->to(at::kBFloat16);
  auto low = run(*r, in);
  ASSERT_EQ(low.passage_output.scalar_type(), at::kBFloat16);
  at::Tensor cos = at::cosine_similarity(low.passage_output.to(at::kFloat), ref.passage_output, 1);
  EXPECT_GT(cos.min().item<double>(), 0.99);
}

TEST(Bert, GeluNewIsTheTanhApproximation) {
  at::Tensor x = at::linspace(-4, 4, 81, at::kDouble);
  at::Tensor expected = 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
  EXPECT_LT(max_abs_diff(model::bert_activation(x, "gelu_new"), expected), 1e-12);
  at::Tensor erf_form = 0.5 * x * (1 + at::erf(x / std::sqrt(2.0)));
  EXPECT_LT(max_abs_diff(model::bert_activation(x, "gelu"), erf_form), 1e-12);
}

TEST(Bert, ExtendedMaskUsesFinfoMin) {
  at::Tensor m = model::bert_extended_mask(at::tensor({1, 1, 0}, at::kLong).view({1, 3}), at::kFloat);
  ASSERT_EQ(m.sizes().vec(), (std::vector<int64_t>{1, 1, 1, 3}));
  EXPECT_EQ(m[0][0][0][0].item<float>(), 0.0f);
  EXPECT_EQ(m[0][0][0][2].item<float>(), -3.4028234663852886e38f);
}

}  // namespace
}  // namespace fid
