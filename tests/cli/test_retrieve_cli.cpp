// `fid retrieve` end to end under mpiexec -n 2 on a tiny corpus and
// retriever: the seed's output format, passages read back from the right
// rows, scores equal to exact search, the saved index reloaded with the same
// output on any world size, every FAISS index family, and a retriever of
// another dimension refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "data/example_reader.h"
#include "data/passages.h"
#include "cli/retrieve_workspace.h"
#include "text/metrics.h"

namespace fid::testing {
namespace {

std::string retrieve_args(const std::string& out, const std::string& extra) {
  RetrieveWorkspace& w = workspace();
  return "retrieve --model_path " + w.retriever() + " --passages " + w.passages() + " --data " +
         w.path("data/dev.json") + " --passages_embeddings " + w.manifest() + " --output_path " +
         w.path(out) + " --per_gpu_batch_size 5 " + extra;
}

// Every question of `out` has k ctxs whose id, title and text are the
// passages file's, whose score is the inner product of the question and that
// passage (exact search: within `tol`), in descending order, equal to the
// best k inner products over all passages.
void check_output(const std::string& out, int k, double tol) {
  RetrieveWorkspace& w = workspace();
  const int64_t d = RetrieveWorkspace::kDim;
  auto got = data::read_examples(w.path(out));
  auto dev = data::read_examples(w.path("data/dev.json"));
  ASSERT_EQ(got.size(), dev.size());
  std::vector<std::string> qs;
  for (const auto& ex : dev) qs.push_back(ex.question);
  std::vector<float> q = w.encode_questions(qs);
  data::PassageStore store(w.passages());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("question " + std::to_string(i));
    EXPECT_EQ(got[i].id, dev[i].id);
    EXPECT_EQ(got[i].question, dev[i].question);
    EXPECT_EQ(got[i].answers, dev[i].answers);
    ASSERT_EQ(got[i].ctxs.size(), static_cast<size_t>(k));
    std::vector<double> best;
    for (int64_t r = 0; r < w.num_passages(); ++r) {
      best.push_back(dot(q.data() + i * d, w.vectors().data() + r * d, d));
    }
    std::sort(best.rbegin(), best.rend());
    for (int j = 0; j < k; ++j) {
      const data::Context& c = got[i].ctxs[static_cast<size_t>(j)];
      const int64_t row = store.row_of(c.id);
      ASSERT_GE(row, 0) << "ctx id '" << c.id << "' is not a passage id";
      data::Passage p = store.row(row);
      EXPECT_EQ(c.title, p.title);
      EXPECT_EQ(c.text, p.text);
      ASSERT_TRUE(c.has_score);
      EXPECT_NEAR(c.score, dot(q.data() + i * d, w.vectors().data() + row * d, d), tol);
      EXPECT_NEAR(c.score, best[static_cast<size_t>(j)], tol);
      EXPECT_EQ(c.hasanswer, text::has_answer(dev[i].answers, p.text) ? 1 : 0);
      if (j > 0) {
        EXPECT_LE(c.score, got[i].ctxs[static_cast<size_t>(j) - 1].score);
      }
    }
  }
}

const std::string kFlatArgs = "--no_fp16 --n-docs 10 --save_or_load_index ";

// The flat run under 2 ranks, once; it saves its index in idx/.
const std::string& flat_run() {
  static const std::string out = [] {
    workspace().fid_ok(2, retrieve_args("flat.json", kFlatArgs + workspace().path("idx")));
    return std::string("flat.json");
  }();
  return out;
}

TEST(RetrieveCli, TwoRanksWriteTheSeedFormatWithExactResults) {
  RetrieveWorkspace& w = workspace();
  check_output(flat_run(), 10, 1e-4);
  nlohmann::json m = read_json_file(w.path("flat.json.metrics.json"));
  for (const char* key : {"top1", "top5", "top10", "queries_per_s", "index_bytes_per_passage"}) {
    EXPECT_TRUE(m.contains(key)) << key << " missing from " << m.dump();
  }
  // Where the time went, stage by stage; the ranks' own search is part of the search call.
  double stages = 0;
  for (const char* key : {"stage_setup_s", "stage_index_s", "stage_encode_s", "stage_search_s",
                          "stage_gather_merge_s", "stage_passage_lookup_s", "stage_answer_match_s",
                          "stage_write_s"}) {
    ASSERT_TRUE(m.contains(key)) << key << " missing from " << m.dump();
    EXPECT_GE(m[key].get<double>(), 0.0) << key;
    stages += m[key].get<double>();
  }
  // The stages are disjoint parts of the job: together no more than its wall
  // time, and most of it (the rest is barriers and the index size report).
  ASSERT_TRUE(m.contains("wall_s"));
  EXPECT_LE(stages, m["wall_s"].get<double>() + 1e-6);
  EXPECT_GE(stages, 0.5 * m["wall_s"].get<double>());
  EXPECT_LE(m["stage_search_s"].get<double>(), m["search_s"].get<double>() + 1e-6);
  EXPECT_FALSE(m.contains("top20"));  // only k <= n-docs
  EXPECT_EQ(m["questions"].get<size_t>(), data::read_examples(w.path("data/dev.json")).size());
  EXPECT_EQ(m["index_passages"].get<double>(), w.num_passages());
  // A flat index holds the float vectors: 4 bytes per dimension plus a header.
  const double bpp = m["index_bytes_per_passage"].get<double>();
  EXPECT_GE(bpp, 4.0 * RetrieveWorkspace::kDim);
  EXPECT_LT(bpp, 4.0 * RetrieveWorkspace::kDim + 4);
  EXPECT_GT(m["top10"].get<double>(), 0.0);
}

TEST(RetrieveCli, SavedIndexReloadsOnAnyWorldSize) {
  RetrieveWorkspace& w = workspace();
  const std::string args = kFlatArgs + w.path("idx");
  const std::string first = w.path(flat_run());
  for (int np : {2, 1, 3}) {
    const std::string out = "again" + std::to_string(np) + ".json";
    const std::string log = w.fid_ok(np, retrieve_args(out, args));
    EXPECT_NE(log.find("loaded the saved index"), std::string::npos) << log;
    EXPECT_EQ(read_file(w.path(out)), read_file(first)) << np << " ranks";
  }
}

// Every index family by its FAISS factory string through `fid retrieve`:
// built and saved by 3 ranks, then searched by 1 and 2 ranks from the saved
// parts with byte-identical output files; recall@5 against exact
// search above each family's floor, and bytes per passage reported.
TEST(RetrieveCli, EveryIndexFamilyOnOneTwoAndThreeRanks) {
  RetrieveWorkspace& w = workspace();
  const int64_t d = RetrieveWorkspace::kDim;
  auto dev = data::read_examples(w.path("data/dev.json"));
  std::vector<std::string> qs;
  for (const auto& ex : dev) qs.push_back(ex.question);
  const std::vector<float> q = w.encode_questions(qs);
  struct Family {
    const char* factory;
    double floor;  // recall@5
  };
  // ~300 passages of 16 dimensions: 4 IVF cells, all probed (--nprobe 16), so
  // IVF-Flat is exact; codes of 4 bits per 4 dimensions keep a rough order
  // (floor 0.2: random passages would give 5/300 = 0.017); OPQ's rotation is
  // learnt with a PQ of 256 centroids (FAISS's), hence 300 passages.
  const Family families[] = {{"Flat", 1.0},        {"IVF4,Flat", 1.0}, {"HNSW16", 0.95},
                             {"SQ8", 0.9},         {"IVF4,SQ8", 0.9},  {"PQ4x4", 0.2},
                             {"IVF4,PQ4x4", 0.2}, {"OPQ4,PQ4x4", 0.2}, {"OPQ4,IVF4,PQ4x4", 0.2},
                             {"HNSW16_SQ8", 0.85}};
  for (const auto& f : families) {
    SCOPED_TRACE(f.factory);
    std::string tag = f.factory;
    std::replace(tag.begin(), tag.end(), ',', '_');
    const std::string args = "--no_fp16 --n-docs 5 --efSearch 64 --index_factory " + std::string(f.factory) +
                             " --save_or_load_index " + w.path("idx_" + tag);
    w.fid_ok(3, retrieve_args(tag + "_3.json", args));
    for (int np : {1, 2}) {
      const std::string log = w.fid_ok(np, retrieve_args(tag + "_" + std::to_string(np) + ".json", args));
      EXPECT_NE(log.find("loaded the saved index"), std::string::npos) << log;
      // Byte for byte: each question is searched in the same batch on any world size.
      EXPECT_EQ(read_file(w.path(tag + "_" + std::to_string(np) + ".json")), read_file(w.path(tag + "_3.json")))
          << np << " ranks";
    }
    auto got = data::read_examples(w.path(tag + "_3.json"));
    ASSERT_EQ(got.size(), dev.size());
    data::PassageStore store(w.passages());
    int64_t found = 0, wanted = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      std::vector<std::pair<double, int64_t>> exact;
      for (int64_t r = 0; r < w.num_passages(); ++r)
        exact.emplace_back(dot(q.data() + i * d, w.vectors().data() + r * d, d), r);
      std::partial_sort(exact.begin(), exact.begin() + 5, exact.end(),
                        [](const auto& a, const auto& b) { return a.first > b.first; });
      for (const auto& c : got[i].ctxs) {
        const int64_t row = store.row_of(c.id);
        for (int j = 0; j < 5; ++j) found += exact[static_cast<size_t>(j)].second == row;
      }
      wanted += 5;
    }
    const double recall = static_cast<double>(found) / static_cast<double>(wanted);
    const auto m = read_json_file(w.path(tag + "_3.json.metrics.json"));
    std::printf("%-12s recall@5 %.3f  %.1f bytes/passage\n", f.factory, recall,
                m["index_bytes_per_passage"].get<double>());
    EXPECT_GE(recall, f.floor);
    EXPECT_GT(m["index_bytes_per_passage"].get<double>(), 0.0);
  }
  // A factory string FAISS cannot build is refused naming it.
  std::string out;
  EXPECT_NE(w.fid(1, retrieve_args("bad.json", "--index_factory IVF4,Bogus"), &out), 0);
  EXPECT_NE(out.find("--index_factory 'IVF4,Bogus'"), std::string::npos) << out;
}

TEST(RetrieveCli, ProductQuantizationWithExactRerank) {
  // ~300 passages train 4-bit codes (16 centroids per subquantizer); 100
  // candidates per rank (two thirds of its passages: this corpus's untrained
  // retriever puts many passages within 1e-3 of each other, below what
  // 4-bit codes tell apart) re-scored with the float vectors give exact scores.
  workspace().fid_ok(2, retrieve_args("pq.json", "--no_fp16 --n-docs 5 --index_type pq "
                                                 "--n-subquantizers 4 --n-bits 4 --rerank 100"));
  check_output("pq.json", 5, 1e-4);
  nlohmann::json m = read_json_file(workspace().path("pq.json.metrics.json"));
  // 4 codes of 4 bits (2 bytes) per passage plus the codebook spread over ~300.
  EXPECT_LT(m["index_bytes_per_passage"].get<double>(), 4.0 * RetrieveWorkspace::kDim);
}

TEST(RetrieveCli, RetrieverOfAnotherDimensionIsRefused) {
  RetrieveWorkspace& w = workspace();
  w.fid_ok(1, "init-model --arch retriever --tokenizer " + fixtures_dir() +
                  "/t5_tokenizer/spiece.model --hidden_size 32 --num_hidden_layers 1 "
                  "--num_attention_heads 4 --intermediate_size 64 --indexing_dimension 8 "
                  "--output_dir " + w.path("ret8"));
  std::string out;
  const std::string args = "retrieve --model_path " + w.path("ret8") + " --passages " +
                           w.passages() + " --data " + w.path("data/dev.json") +
                           " --passages_embeddings " + w.manifest() + " --output_path " +
                           w.path("ret8.json");
  EXPECT_NE(w.fid(2, args, &out), 0) << out;
  EXPECT_NE(out.find("makes 8-dimensional vectors"), std::string::npos) << out;
  EXPECT_NE(out.find("are 16-dimensional"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(w.path("ret8.json")));
}

// Nothing to do is an error, not an empty success: an empty question file
// and a passages file with a header only are refused, naming the file; with
// more --n-docs than passages the log says how many each question got.
TEST(RetrieveCli, NothingToRetrieveIsRefusedNamingTheFile) {
  RetrieveWorkspace& w = workspace();
  write_text(w.path("empty.json"), "[]");
  std::string out;
  std::string args = "retrieve --model_path " + w.retriever() + " --passages " + w.passages() +
                     " --data " + w.path("empty.json") + " --passages_embeddings " + w.manifest() +
                     " --output_path " + w.path("empty_out.json");
  EXPECT_NE(w.fid(2, args, &out), 0) << out;
  EXPECT_NE(out.find(w.path("empty.json") + "' (--data) holds no questions"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(w.path("empty_out.json")));

  write_text(w.path("header.tsv"), "id\ttext\ttitle\n");
  EXPECT_NE(w.fid(2, "embed-passages --model_path " + w.retriever() + " --passages " + w.path("header.tsv") +
                         " --output_path " + w.path("header_emb"),
                  &out),
            0);
  EXPECT_NE(out.find(w.path("header.tsv") + "' holds no passages"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(w.path("header_emb/manifest.json")));

  out = w.fid_ok(1, retrieve_args("all.json", "--n-docs 1000"));
  const std::string said = "with " + std::to_string(w.num_passages()) + " to 1000 passages each";
  EXPECT_NE(out.find(said), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::testing
