// `fid evaluate-retrieval` reproduces the accuracies `retrieve` wrote;
// `fid filter-passages` under 2 ranks keeps the stated fraction, prefers
// the passages retrieval needs, and its manifest is accepted by `retrieve`,
// whose output then holds only kept passages, read from their original rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/files.h"
#include "data/example_reader.h"
#include "data/passages.h"
#include "cli/retrieve_workspace.h"
#include "sharding/embedding_shard.h"
#include "sharding/manifest.h"

namespace fid::testing {
namespace {

std::string retrieve_args(const std::string& data, const std::string& embeddings,
                          const std::string& out, const std::string& extra) {
  RetrieveWorkspace& w = workspace();
  return "retrieve --model_path " + w.retriever() + " --passages " + w.passages() + " --data " +
         w.path(data) + " --passages_embeddings " + embeddings + " --output_path " + w.path(out) +
         " " + extra;
}

// Train questions retrieved once, in the default question precision.
const std::string& train_retrieval() {
  static const std::string out = [] {
    workspace().fid_ok(2, retrieve_args("data/train.json", workspace().manifest(), "train.json",
                                        "--n-docs 20"));
    return std::string("train.json");
  }();
  return out;
}

TEST(EvaluateRetrievalCli, MatchesTheMetricsRetrieveWrote) {
  RetrieveWorkspace& w = workspace();
  const std::string ret = w.path(train_retrieval());
  nlohmann::json want = read_json_file(ret + ".metrics.json");
  for (const std::string flags : {"", " --use_hasanswer"}) {
    SCOPED_TRACE(flags);
    w.fid_ok(1, "evaluate-retrieval --data " + ret + " --output_path " + w.path("eval.json") + flags);
    nlohmann::json got = read_json_file(w.path("eval.json"));
    EXPECT_EQ(got["questions"], want["questions"]);
    EXPECT_EQ(got["n_docs"], want["n_docs"]);
    for (const char* key : {"top1", "top5", "top10", "top20"}) {
      ASSERT_TRUE(got.contains(key)) << key;
      EXPECT_EQ(got[key].get<double>(), want[key].get<double>()) << key;
    }
    EXPECT_FALSE(got.contains("top50"));
  }
  // Some answer is found, not in every first passage: the figures are not trivial.
  EXPECT_GT(want["top20"].get<double>(), want["top1"].get<double>());
}

// --match regex|string: the has_answer cases of the reference file, each a
// question whose one passage is the case's text, give the top-1 accuracy
// that DPR's has_answer (regex, or string) gives them (each case is checked
// against the library in tests/text/test_regex_parity.cpp). A ctx without
// text counts as no answer, before any matching (the two empty-text cases).
TEST(EvaluateRetrievalCli, MatchRegexAndStringCountAsDprOnTheReferenceCases) {
  TempDir dir("fid-eval-match");
  const nlohmann::json ref = read_json_file(fixtures_dir() + "/answer_match_cases.json");
  std::string lines;
  std::map<std::string, int> want;
  int n = 0;
  for (const auto& c : ref["has_answer_cases"]) {
    nlohmann::json q = {{"id", std::to_string(n++)}, {"question", "q"}, {"answers", c["answers"]},
                        {"ctxs", {{{"id", "1"}, {"title", ""}, {"text", c["text"]}}}}};
    lines += q.dump() + "\n";
    const bool text = !c["text"].get<std::string>().empty();
    for (const char* match : {"regex", "string"})
      want[match] += text && c[std::string("has_answer_") + match].get<bool>();
  }
  ASSERT_GE(n, 50);
  EXPECT_NE(want["regex"], want["string"]);  // the cases tell the two apart
  write_text(dir.file("r.jsonl"), lines);
  for (const char* match : {"regex", "string"}) {
    SCOPED_TRACE(match);
    std::string out;
    ASSERT_EQ(run_command(fid_binary() + " evaluate-retrieval --data " + dir.file("r.jsonl") + " --match " + match +
                              " --output_path " + dir.file("m.json"), &out), 0) << out;
    EXPECT_EQ(read_json_file(dir.file("m.json"))["top1"].get<double>(), static_cast<double>(want[match]) / n);
  }
  std::string out;
  EXPECT_NE(run_command(fid_binary() + " evaluate-retrieval --data " + dir.file("r.jsonl") + " --match fuzzy", &out), 0);
  EXPECT_NE(out.find("--match"), std::string::npos) << out;
}

TEST(FilterPassagesCli, KeepsTheFractionAndRetrieveReadsTheKeptPassages) {
  RetrieveWorkspace& w = workspace();
  const int64_t n = w.num_passages();
  const std::string filt = w.path("filtered");
  w.fid_ok(2, "filter-passages --passages " + w.passages() + " --passages_embeddings " +
                  w.manifest() + " --data " + w.path(train_retrieval()) + " --n_context 10 "
                  "--keep_fraction 0.4 --output_dir " + filt);
  sharding::Manifest m = sharding::load_manifest(filt + "/manifest.json");
  EXPECT_TRUE(m.is_subset());
  EXPECT_EQ(m.subset_of_rows, n);
  EXPECT_EQ(m.total_rows, (4 * n + 5) / 10);  // round(0.4 n)
  EXPECT_EQ(m.shard_count, 3);
  // The kept rows: increasing passage rows, every vector the original one.
  std::vector<int64_t> kept;
  for (const auto& s : m.shards) {
    sharding::EmbeddingShardReader r(m.shard_path(s));
    auto ids = r.read_all_ids();
    auto v = r.read_all_vectors();
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_TRUE(kept.empty() || ids[i] > kept.back());
      kept.push_back(ids[i]);
      for (int64_t j = 0; j < RetrieveWorkspace::kDim; ++j) {
        ASSERT_EQ(v[i * RetrieveWorkspace::kDim + j], w.vectors()[ids[i] * RetrieveWorkspace::kDim + j]);
      }
    }
  }
  ASSERT_EQ(static_cast<int64_t>(kept.size()), m.total_rows);

  // The classifier learned its positives: far more of them are kept than the
  // 40% of all passages.
  data::PassageStore store(w.passages());
  std::set<int64_t> positives;
  for (const auto& ex : data::read_examples(w.path(train_retrieval()))) {
    for (size_t j = 0; j < 10; ++j) positives.insert(store.row_of(ex.ctxs[j].id));
  }
  int64_t pos_kept = 0;
  for (int64_t r : positives) pos_kept += std::binary_search(kept.begin(), kept.end(), r);
  const double rate = static_cast<double>(pos_kept) / static_cast<double>(positives.size());
  std::printf("positives: %zu of %lld passages, %.2f of them kept\n", positives.size(),
              static_cast<long long>(n), rate);
  EXPECT_GE(rate, 0.75);  // measured 0.90
  nlohmann::json report = read_json_file(filt + "/filter.json");
  EXPECT_EQ(report["passages_kept"].get<int64_t>(), m.total_rows);
  EXPECT_EQ(report["weights"].size(), static_cast<size_t>(RetrieveWorkspace::kDim));

  // retrieve over the filtered manifest: only kept passages, exact scores.
  const std::string log = w.fid_ok(2, retrieve_args("data/dev.json", filt + "/manifest.json",
                                                    "dev_filtered.json", "--no_fp16 --n-docs 5"));
  // The filtered shards still name the retriever that embedded them.
  EXPECT_EQ(log.find("made by another model"), std::string::npos) << log;
  auto got = data::read_examples(w.path("dev_filtered.json"));
  auto dev = data::read_examples(w.path("data/dev.json"));
  std::vector<std::string> qs;
  for (const auto& ex : dev) qs.push_back(ex.question);
  auto q = w.encode_questions(qs);
  const int64_t d = RetrieveWorkspace::kDim;
  ASSERT_EQ(got.size(), dev.size());
  for (size_t i = 0; i < got.size(); ++i) {
    std::vector<double> best;
    for (int64_t r : kept) best.push_back(dot(q.data() + i * d, w.vectors().data() + r * d, d));
    std::sort(best.rbegin(), best.rend());
    ASSERT_EQ(got[i].ctxs.size(), 5u);
    for (size_t j = 0; j < 5; ++j) {
      const auto& c = got[i].ctxs[j];
      const int64_t row = store.row_of(c.id);
      ASSERT_TRUE(std::binary_search(kept.begin(), kept.end(), row)) << c.id;
      EXPECT_EQ(c.text, store.row(row).text);
      EXPECT_NEAR(c.score, dot(q.data() + i * d, w.vectors().data() + row * d, d), 1e-4);
      EXPECT_NEAR(c.score, best[j], 1e-4);
    }
  }

  // The filtered shards as a glob are refused (only the manifest says they
  // are a subset), and so is filtering into the same directory again.
  std::string out;
  EXPECT_NE(w.fid(1, retrieve_args("data/dev.json", "'" + filt + "/passages_*.h5'", "glob.json", ""), &out), 0);
  EXPECT_NE(out.find("manifest.json"), std::string::npos) << out;
  EXPECT_NE(w.fid(1, "filter-passages --passages " + w.passages() + " --passages_embeddings " +
                         w.manifest() + " --data " + w.path(train_retrieval()) +
                         " --output_dir " + filt, &out), 0);
  EXPECT_NE(out.find("choose another"), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::testing
