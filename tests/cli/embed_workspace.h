// Shared by the embed-passages tests: a workspace with a small corpus and a
// tiny retriever, `fid embed-passages` runs on any number of ranks (also in
// the background, to be killed), and the rows of a run read back from its
// shards for comparison.
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "data/passages.h"
#include "sharding/embedding_shard.h"
#include "sharding/manifest.h"
#include "support/workspace.h"

namespace fid::testing {

// Corpus and retrievers: `ret` masks passage padding (so the
// pipeline sorts by length), `ret_nomask` does not (every passage padded to
// passage_maxlength, as the seed does), `ret_wide` has another dimension.
class EmbedWorkspace : public Workspace {
 public:
  explicit EmbedWorkspace(int passages = 240, const std::vector<std::string>& models = {"ret"})
      : Workspace("fid-embed") {
    write_corpus(passages);
    for (const auto& m : models) {
      if (m == "ret") tiny_retriever(m, 16, 7, "--apply_passage_mask --passage_maxlength 64");
      if (m == "ret_nomask") tiny_retriever(m, 16, 7, "--passage_maxlength 64");
      if (m == "ret_wide") tiny_retriever(m, 24, 7, "--apply_passage_mask --passage_maxlength 64");
    }
  }

  // The command line of one run; np > 1 goes through mpiexec.
  std::string command(int np, const std::string& out, const std::string& extra,
                      const std::string& model = "ret") const {
    return command_on(passages(), np, out, extra, model);
  }
  std::string command_on(const std::string& passages_tsv, int np, const std::string& out,
                         const std::string& extra, const std::string& model = "ret") const {
    return mpi_launch(np) + fid_binary() + " embed-passages --threads 1 --model_path " + path(model) +
           " --passages " + passages_tsv + " --output_path " + path(out) + " " +
           // Small batches and windows so that a small corpus spans many of
           // them, and two tokenizers so that windows arrive out of order.
           unless(extra, "gpu", "--per_gpu_batch_size 8 ") +
           unless(extra, "window", "--window-batches 4 ") +
           unless(extra, "tokenizer", "--tokenizer-threads 2 ") + extra;
  }
  // `option` unless `extra` already sets something named like `key`.
  static std::string unless(const std::string& extra, const std::string& key, const std::string& option) {
    return extra.find(key) == std::string::npos ? option : "";
  }
  // Runs and expects success; returns the log. A hung run (a collective
  // that never completes) is ended by `timeout` and fails the test.
  std::string embed(int np, const std::string& out, const std::string& extra = "",
                    const std::string& model = "ret") const {
    std::string cmd = "timeout 120 " + command(np, out, extra, model), log;
    EXPECT_EQ(run_command(cmd, &log), 0) << cmd << "\n" << log;
    return log;
  }
  // Runs and expects failure; returns the log.
  std::string embed_fails(int np, const std::string& out, const std::string& extra = "",
                          const std::string& model = "ret") const {
    std::string cmd = "timeout 120 " + command(np, out, extra, model), log;
    EXPECT_NE(run_command(cmd, &log), 0) << cmd << "\n" << log;
    return log;
  }

 private:
  // Passages of 1 to 12 words (so lengths vary around passage_maxlength 64
  // and sorting by length matters), a few with quotes, tabs and non-ASCII text.
  void write_corpus(int n) {
    static const char* kWords[] = {"river", "castle", "born", "year", "mentor", "geologist",
                                   "studied", "letters", "city", "north", "music", "écrivain",
                                   "the", "of", "and", "in", "1884", "Zürich", "\"quoted\"", "tanner"};
    make_directories(path("data"));
    data::PassageWriter out(path("data/passages.tsv"));
    uint64_t state = 12345;
    auto next = [&state] {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<uint32_t>(state >> 33);
    };
    for (int i = 0; i < n; ++i) {
      data::Passage p;
      p.id = "p" + std::to_string(i);
      p.title = std::string("Title ") + kWords[next() % 20];
      const int words = 1 + static_cast<int>(next() % 12);
      for (int w = 0; w < words; ++w) p.text += (w ? " " : "") + std::string(kWords[next() % 20]);
      out.write(p);
    }
    out.close();
  }
};

// Every row of a run, in global-id order, from its manifest.
struct EmbeddedRows {
  int64_t dim = 0;
  sharding::EmbeddingDtype dtype = sharding::EmbeddingDtype::kFloat16;
  std::vector<int64_t> ids;
  std::vector<float> vectors;  // (ids.size(), dim)
  int shards = 0;
};

inline EmbeddedRows read_rows(const std::string& manifest_path) {
  sharding::Manifest m = sharding::load_manifest(manifest_path);
  EmbeddedRows r;
  r.dim = m.dim;
  r.dtype = m.dtype;
  r.shards = static_cast<int>(m.shards.size());
  for (const auto& s : m.shards) {
    sharding::EmbeddingShardReader reader(m.shard_path(s));
    reader.verify();
    auto ids = reader.read_all_ids();
    auto vec = reader.read_all_vectors();
    r.ids.insert(r.ids.end(), ids.begin(), ids.end());
    r.vectors.insert(r.vectors.end(), vec.begin(), vec.end());
  }
  return r;
}

// One float16 step (unit in the last place) at the magnitude of x.
inline float half_step(float x) {
  float a = std::max(std::fabs(x), 6.1035156e-05f);  // smallest normal half
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  return std::ldexp(1.0f, e - 11);
}

// Same ids in the same order, covering 0..n-1 once each, and vectors within
// `tol` (float32 storage) or one float16 step (float16 storage).
inline void expect_same_rows(const EmbeddedRows& a, const EmbeddedRows& b, int64_t n, double tol) {
  ASSERT_EQ(a.dim, b.dim);
  ASSERT_EQ(a.ids.size(), static_cast<size_t>(n));
  ASSERT_EQ(b.ids.size(), static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(a.ids[static_cast<size_t>(i)], i) << "row " << i << " missing, duplicated or out of order";
    ASSERT_EQ(b.ids[static_cast<size_t>(i)], i) << "row " << i << " missing, duplicated or out of order";
  }
  double worst = 0;
  int64_t bad = 0;
  for (size_t k = 0; k < a.vectors.size(); ++k) {
    const float x = a.vectors[k], y = b.vectors[k];
    const double diff = std::fabs(static_cast<double>(x) - y);
    const double allowed = a.dtype == sharding::EmbeddingDtype::kFloat16
                               ? static_cast<double>(half_step(std::max(std::fabs(x), std::fabs(y))))
                               : tol;
    worst = std::max(worst, diff);
    if (diff > allowed) ++bad;
  }
  EXPECT_EQ(bad, 0) << "of " << a.vectors.size() << " values; largest difference " << worst;
}

}  // namespace fid::testing
