#include "cli/retrieve_workspace.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "data/passages.h"
#include "sharding/embedding_shard.h"
#include "sharding/manifest.h"
#include "runtime/loaded_retriever.h"

namespace fid::testing {

RetrieveWorkspace::RetrieveWorkspace() : Workspace("fid-retrieve-cli") {
  synth_data(300);  // about 300 passages: enough to train OPQ (256 centroids)
  tiny_retriever("ret", kDim, 4,
                 "--apply_question_mask --apply_passage_mask --question_maxlength 24 --passage_maxlength 48");

  // Three float32 shards and their manifest from embed-passages; the test
  // reads back the vectors the index will hold.
  fid_ok(3, "embed-passages --model_path " + retriever() + " --passages " + passages() +
                " --output_path " + path("emb/passages") + " --dtype float32 --no_fp16");
  sharding::Manifest m = sharding::load_manifest(manifest());
  EXPECT_EQ(m.shard_count, 3);
  for (const auto& s : m.shards) {
    sharding::EmbeddingShardReader r(m.shard_path(s));
    EXPECT_EQ(r.dim(), kDim);
    auto v = r.read_all_vectors();
    vectors_.insert(vectors_.end(), v.begin(), v.end());
  }
  EXPECT_EQ(num_passages(), data::PassageStore(passages()).size());
}

std::vector<float> RetrieveWorkspace::encode_questions(const std::vector<std::string>& questions) const {
  runtime::LoadedRetriever r(retriever());
  r.model()->eval();
  c10::InferenceMode guard;
  runtime::RetrieverInputs in = r.encode_questions(questions);
  at::Tensor q = r.model()->embed_questions(in.question_ids, in.question_mask).contiguous();  // (n, D)
  return std::vector<float>(q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
}

RetrieveWorkspace& workspace() {
  static RetrieveWorkspace w;
  return w;
}

double dot(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t i = 0; i < d; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace fid::testing
