// `fid init-model --arch bert|retriever`: the directories it writes load back
// with the flags' sizes, the tokenizer's vocabulary and (with
// --init_from_bert) the BERT weights they were started from.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "model/retriever_io.h"
#include "model/safetensors.h"
#include "model/retriever_test_util.h"

namespace fid {
namespace {
using namespace fid::testing;

const char* kSmall =
    " --hidden_size 32 --num_hidden_layers 1 --num_attention_heads 2 --intermediate_size 48"
    " --max_position_embeddings 64";

TEST(InitModelBert, RetrieverFromFlagsLoadsBack) {
  TempDir tmp("init-retriever");
  const std::string out = tmp.file("ret");
  std::string log;
  const std::string cmd = fid_binary() + " init-model --arch retriever --tokenizer " +
                          join_path(fixtures_dir(), "bert") + kSmall +
                          " --indexing_dimension 16 --apply_passage_mask --passage_maxlength 48"
                          " --seed 3 --output_dir " + out;
  ASSERT_EQ(run_command(cmd, &log), 0) << log;
  model::Retriever r = model::load_retriever(out);
  const auto& c = r->config();
  EXPECT_EQ(c.bert.hidden_size, 32);
  EXPECT_EQ(c.bert.num_hidden_layers, 1);
  EXPECT_EQ(c.bert.vocab_size, 459);  // bert/vocab.txt
  EXPECT_EQ(c.indexing_dimension, 16);
  EXPECT_TRUE(c.projection);
  EXPECT_TRUE(c.apply_passage_mask);
  EXPECT_FALSE(c.apply_question_mask);
  EXPECT_EQ(c.passage_maxlength, 48);
  EXPECT_EQ(c.tokenizer, model::TokenizerKind::kWordPiece);
  EXPECT_EQ(r->proj->weight.sizes().vec(), (std::vector<int64_t>{16, 32}));
  EXPECT_NEAR(r->model->embeddings->word_embeddings->weight.slice(0, 1).std().item<double>(), 0.02, 0.003);
  // Refusing to overwrite, and a mistake that names its flag.
  EXPECT_NE(run_command(cmd, &log), 0);
  EXPECT_NE(log.find("--overwrite"), std::string::npos) << log;
  EXPECT_NE(run_command(fid_binary() + " init-model --arch retriever --vocab_size 100"
                        " --hidden_size 30 --num_attention_heads 4 --output_dir " + tmp.file("bad"), &log), 0);
  EXPECT_NE(log.find("num_attention_heads"), std::string::npos) << log;
}

TEST(InitModelBert, BertAndRetrieverFromBert) {
  TempDir tmp("init-bert");
  const std::string bert_dir = join_path(fixtures_dir(), "bert");
  std::string log;
  ASSERT_EQ(run_command(fid_binary() + " init-model --arch bert --tokenizer " + bert_dir + kSmall +
                        " --output_dir " + tmp.file("bert"), &log), 0) << log;
  model::BertModel b = model::load_bert(tmp.file("bert"));
  EXPECT_EQ(b->config().intermediate_size, 48);
  EXPECT_TRUE(path_exists(tmp.file("bert/vocab.txt")));

  // FiD's start: BERT weights from a BERT directory, a fresh head.
  ASSERT_EQ(run_command(fid_binary() + " init-model --arch retriever --config " + bert_dir +
                        " --init_from_bert " + bert_dir + " --indexing_dimension 8 --passage_maxlength 100 --output_dir " +
                        tmp.file("ret"), &log), 0) << log;
  model::Retriever r = model::load_retriever(tmp.file("ret"));
  EXPECT_EQ(r->config().tokenizer, model::TokenizerKind::kWordPiece);
  const auto ref = model::read_safetensors(join_path(bert_dir, "model.safetensors"));
  for (const auto& [name, t] : ref)
    EXPECT_TRUE(at::equal(r->named_parameters()["model." + name], t)) << name;
  EXPECT_EQ(r->proj->weight.size(0), 8);
}

}  // namespace
}  // namespace fid
