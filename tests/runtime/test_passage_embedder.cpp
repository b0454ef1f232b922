// The embedding pipeline in-process: rows reach the sink once each and in
// file order however the tokenizer threads interleave; length sorting and
// window size do not change the vectors; an error in any stage ends the run
// with that error instead of a hang; reduced precision stays close to float32.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>

#include "common/error.h"
#include "common/files.h"
#include "data/passages.h"
#include "model/retriever.h"
#include "model/retriever_io.h"
#include "support/test_util.h"
#include "runtime/passage_embedder.h"
#include "runtime/placement.h"
#include "model/autocast.h"
#include "sharding/embedding_shard.h"
#include "runtime/loaded_retriever.h"

namespace fid::testing {
namespace {

class PassageEmbedderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("fid-embedder");
    model::RetrieverConfig c;
    c.bert.vocab_size = 459;  // tests/data/fixtures/bert/vocab.txt
    c.bert.hidden_size = 32;
    c.bert.num_hidden_layers = 2;
    c.bert.num_attention_heads = 4;
    c.bert.intermediate_size = 64;
    c.bert.max_position_embeddings = 128;
    c.indexing_dimension = 8;
    c.apply_passage_mask = true;
    c.passage_maxlength = 40;
    model::Retriever r(c);
    model::init_retriever_weights(*r, 3);
    model::save_retriever(*r, dir_->file("ret"), join_path(fixtures_dir(), "bert"));
    // Passages of 1..30 words of the fixture vocabulary: lengths on both sides of 40 tokens.
    const char* words[] = {"the", "of", "and", "in", "a", "to", "was", "he", "is", "for"};
    data::PassageWriter out(dir_->file("p.tsv"));
    for (int i = 0; i < 203; ++i) {
      data::Passage p;
      p.id = std::to_string(i);
      p.title = words[i % 10];
      for (int w = 0; w < 1 + (i * 7) % 30; ++w) p.text += std::string(w ? " " : "") + words[(i + w) % 10];
      out.write(p);
    }
    out.close();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  struct Run {
    std::vector<int64_t> ids;
    std::vector<float> vectors;
    runtime::EmbedStats stats;
  };
  static Run embed(const runtime::EmbedOptions& o, int64_t begin = 0, int64_t end = -1) {
    runtime::LoadedRetriever retriever(dir_->file("ret"));
    data::PassageStore store(dir_->file("p.tsv"));
    runtime::PassageEmbedder embedder(retriever, o);
    Run r;
    r.stats = embedder.run(store, begin, end < 0 ? store.size() : end,
                           [&](const int64_t* ids, const float* v, int64_t n) {
                             r.ids.insert(r.ids.end(), ids, ids + n);
                             r.vectors.insert(r.vectors.end(), v, v + n * embedder.dim());
                           });
    return r;
  }
  static double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    return m;
  }
  static TempDir* dir_;
};
TempDir* PassageEmbedderTest::dir_ = nullptr;

TEST_F(PassageEmbedderTest, RowsInFileOrderOnceEachWhateverTheThreadsAndWindows) {
  runtime::EmbedOptions base;
  base.batch_size = 7;
  base.window_batches = 1;  // no sorting across batches
  base.tokenizer_threads = 1;
  Run ref = embed(base);
  ASSERT_EQ(ref.ids.size(), 203u);
  for (int64_t i = 0; i < 203; ++i) ASSERT_EQ(ref.ids[static_cast<size_t>(i)], i);
  EXPECT_EQ(ref.stats.rows, 203);

  runtime::EmbedOptions sorted = base;
  sorted.window_batches = 5;
  sorted.tokenizer_threads = 3;
  Run s = embed(sorted);
  EXPECT_EQ(s.ids, ref.ids);
  EXPECT_LT(max_diff(s.vectors, ref.vectors), 1e-5);
  // Sorting ran fewer padding tokens than batches in file order.
  EXPECT_LT(s.stats.padded_tokens, ref.stats.padded_tokens);
  EXPECT_EQ(s.stats.tokens, ref.stats.tokens);

  // A sub-range (a shard, or a resumed one) gives the same rows as the whole.
  Run part = embed(sorted, 50, 131);
  ASSERT_EQ(part.ids.size(), 81u);
  EXPECT_EQ(part.ids.front(), 50);
  EXPECT_EQ(part.ids.back(), 130);
  std::vector<float> want(ref.vectors.begin() + 50 * 8, ref.vectors.begin() + 131 * 8);
  EXPECT_LT(max_diff(part.vectors, want), 1e-5);
  // An empty range is no work and no error.
  EXPECT_TRUE(embed(sorted, 203, 203).ids.empty());
}

TEST_F(PassageEmbedderTest, AnErrorInTheSinkEndsTheRunWithThatError) {
  runtime::LoadedRetriever retriever(dir_->file("ret"));
  data::PassageStore store(dir_->file("p.tsv"));
  runtime::EmbedOptions o;
  o.batch_size = 4;
  o.window_batches = 2;
  o.tokenizer_threads = 2;
  runtime::PassageEmbedder embedder(retriever, o);
  std::atomic<int> calls{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::string err = error_of([&] {
    embedder.run(store, 0, store.size(), [&](const int64_t*, const float*, int64_t) {
      if (++calls == 3) FID_THROW("disk on fire at window 3");
    });
  });
  EXPECT_NE(err.find("disk on fire at window 3"), std::string::npos) << err;
  EXPECT_EQ(calls.load(), 3);  // nothing handed over after the failure
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
  // A range outside the file is refused, naming it.
  err = error_of([&] { embedder.run(store, 0, store.size() + 1, [](const int64_t*, const float*, int64_t) {}); });
  EXPECT_NE(err.find(dir_->file("p.tsv")), std::string::npos) << err;
}

TEST_F(PassageEmbedderTest, ReducedPrecisionStaysCloseToFloat32) {
  const runtime::Placement p = runtime::choose_placement(true, c10::Device(c10::DeviceType::CPU));
  EXPECT_EQ(p.dtype == at::kBFloat16, model::cpu_has_native_bf16()) << p.reason;
  EXPECT_EQ(runtime::choose_placement(false, c10::Device(c10::DeviceType::CPU)).dtype, at::kFloat);
  EXPECT_FALSE(p.reason.empty());
  // bfloat16 runs on any CPU (emulated where not native): vectors within
  // bf16 rounding of the float32 ones (unit-scale LayerNorm outputs).
  runtime::EmbedOptions o;
  o.batch_size = 16;
  Run f32 = embed(o, 0, 64);
  o.dtype = at::kBFloat16;
  Run bf16 = embed(o, 0, 64);
  const double d = max_diff(f32.vectors, bf16.vectors);
  EXPECT_LT(d, 0.1);
  EXPECT_GT(d, 0.0);  // it really ran in bfloat16
}

TEST(ShardChunkRows, OneWindowPerChunkUpToFourMiB) {
  EXPECT_EQ(sharding::shard_chunk_rows(1024, 768 * 2), 1024);
  EXPECT_EQ(sharding::shard_chunk_rows(8192, 768 * 4), 1024);  // 3 MiB
  EXPECT_EQ(sharding::shard_chunk_rows(1000, 16 * 4), 1000);
  EXPECT_EQ(sharding::shard_chunk_rows(0, 64), 1);
}

}  // namespace
}  // namespace fid::testing
