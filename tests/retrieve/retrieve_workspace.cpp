#include "retrieve/retrieve_workspace.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "data/passages.h"
#include "sharding/embedding_shard.h"
#include "sharding/manifest.h"
#include "train/retriever_io.h"

namespace fid::testing {

RetrieveWorkspace::RetrieveWorkspace() {
  fid_ok(1, "synth-data --people 150 --output_dir " + path("data"));
  fid_ok(1, "init-model --arch retriever --tokenizer " + fixtures_dir() +
                "/t5_tokenizer/spiece.model --hidden_size 32 --num_hidden_layers 2 "
                "--num_attention_heads 4 --intermediate_size 64 --indexing_dimension " +
                std::to_string(kDim) +
                " --apply_question_mask --apply_passage_mask --question_maxlength 24 "
                "--passage_maxlength 48 --seed 4 --output_dir " + retriever());

  std::vector<std::string> titles, texts;
  data::PassageReader reader(passages());
  data::Passage p;
  while (reader.next(p)) {
    titles.push_back(p.title);
    texts.push_back(p.text);
  }
  train::LoadedRetriever r(retriever());
  r.model()->eval();
  {
    c10::InferenceMode guard;
    train::RetrieverInputs in = r.encode_passages(titles, texts);
    at::Tensor e = r.model()->embed_passages(in.passage_ids, in.passage_mask).contiguous();  // (N, D)
    vectors_.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  }
  // Three float32 shards and their manifest, as embed-passages writes them.
  const int64_t n = num_passages();
  sharding::ShardPlan plan(n, 3);
  make_directories(path("emb"));
  std::vector<std::string> files;
  for (int s = 0; s < 3; ++s) {
    sharding::ShardMeta meta;
    meta.dim = kDim;
    meta.dtype = sharding::EmbeddingDtype::kFloat32;
    meta.model_fingerprint = "tiny-retriever";
    meta.passages_fingerprint = file_fingerprint(passages());
    meta.shard_index = s;
    meta.shard_count = 3;
    meta.rows = plan.shard_range(s);
    files.push_back(sharding::shard_file_name(path("emb/passages"), s));
    sharding::EmbeddingShardWriter w(files.back(), meta);
    std::vector<int64_t> ids;
    for (int64_t row = meta.rows.begin; row < meta.rows.end; ++row) ids.push_back(row);
    w.append(ids.data(), vectors_.data() + meta.rows.begin * kDim, meta.rows.size());
    w.finish();
  }
  sharding::Manifest m = sharding::manifest_from_files(files, path("emb"));
  m.total_rows = n;
  sharding::write_manifest(manifest(), m);
}

int RetrieveWorkspace::fid(int np, const std::string& args, std::string* out) const {
  const std::string launch =
      np > 1 ? std::string(FID_MPIEXEC) + " -n " + std::to_string(np) + " --oversubscribe " : "";
  return run_command(launch + fid_binary() + " " + args + " --threads 1", out);
}

std::string RetrieveWorkspace::fid_ok(int np, const std::string& args) const {
  std::string out;
  EXPECT_EQ(fid(np, args, &out), 0) << "fid " << args << "\n" << out;
  return out;
}

std::vector<float> RetrieveWorkspace::encode_questions(const std::vector<std::string>& questions) const {
  train::LoadedRetriever r(retriever());
  r.model()->eval();
  c10::InferenceMode guard;
  train::RetrieverInputs in = r.encode_questions(questions);
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
