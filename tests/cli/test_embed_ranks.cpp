// `fid embed-passages` gives the same rows whatever the number of ranks and
// array-job elements: ids identical and in file order over the union of the
// shards, vectors within 1e-5 stored as float32 and within one float16 step
// stored as float16.
#include "cli/embed_workspace.h"

#include <regex>

#include "data/passages.h"

namespace fid::testing {
namespace {

int64_t passage_count(const EmbedWorkspace& ws) { return data::PassageStore(ws.passages()).size(); }

TEST(EmbedRanks, SameRowsOnOneTwoAndThreeRanksFloat32) {
  EmbedWorkspace ws;
  const int64_t n = passage_count(ws);
  ASSERT_GT(n, 100);
  // --no_fp16: a CPU with native bf16 would otherwise run the model in bf16,
  // whose rounding depends on the batch a row falls in.
  const std::string opts = "--no_fp16 --dtype float32";
  std::string log1 = ws.embed(1, "e1/", opts);
  ws.embed(2, "e2/", opts);
  ws.embed(3, "e3/emb", opts + " --fletcher32");
  EXPECT_NE(log1.find("sorted by length"), std::string::npos) << log1;
  // Sorting by length cut the padding: padding every passage to
  // passage_maxlength (64) would run over 20% more tokens than the real ones;
  // sorted batches (windows of 4 x 8 rows here) run less than 10% more.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log1, m, std::regex("([0-9]+) tokens run for ([0-9]+) real"))) << log1;
  const double run = std::stod(m[1]), real = std::stod(m[2]);
  EXPECT_GT(static_cast<double>(n * 64), 1.2 * real) << log1;
  EXPECT_LT(run, 1.1 * real) << log1;
  EXPECT_GE(run, real) << log1;
  EmbeddedRows r1 = read_rows(ws.path("e1/manifest.json"));
  EmbeddedRows r2 = read_rows(ws.path("e2/manifest.json"));
  EmbeddedRows r3 = read_rows(ws.path("e3/manifest.json"));
  EXPECT_EQ(r1.shards, 1);
  EXPECT_EQ(r2.shards, 2);
  EXPECT_EQ(r3.shards, 3);
  EXPECT_EQ(r1.dtype, sharding::EmbeddingDtype::kFloat32);
  EXPECT_EQ(r1.dim, 16);
  expect_same_rows(r1, r2, n, 1e-5);
  expect_same_rows(r1, r3, n, 1e-5);
  // The rows are real embeddings: unit-scale LayerNorm outputs, not zeros,
  // and different passages get different vectors.
  double norm0 = 0, diff01 = 0;
  for (int64_t k = 0; k < r1.dim; ++k) {
    norm0 += r1.vectors[k] * r1.vectors[k];
    diff01 += std::fabs(r1.vectors[k] - r1.vectors[r1.dim + k]);
  }
  EXPECT_GT(norm0, 1.0);
  EXPECT_GT(diff01, 1e-3);
  // No temporary file is left once a run completes.
  for (const char* f : {"e1/passages_00000.h5.tmp", "e3/emb_00002.h5.tmp"}) {
    EXPECT_FALSE(path_exists(ws.path(f))) << f;
  }
}

// --precision int8: the same rows on any number of ranks (a row's products
// do not depend on its batch... except through the input's quantization
// range, which is per batch: hence a tolerance), each close to its float32
// row in direction; and refused on a GPU.
TEST(EmbedRanks, Int8RowsStayCloseToFloat32) {
  EmbedWorkspace ws;
  const int64_t n = passage_count(ws);
  const std::string log = ws.embed(1, "q1/", "--precision int8 --dtype float32");
  EXPECT_NE(log.find("int8 products (dynamic quantization on "), std::string::npos) << log;
  ws.embed(1, "f1/", "--precision fp32 --dtype float32");
  const EmbeddedRows q = read_rows(ws.path("q1/manifest.json")), f = read_rows(ws.path("f1/manifest.json"));
  ASSERT_EQ(q.ids, f.ids);
  ASSERT_EQ(q.ids.size(), static_cast<size_t>(n));
  double worst_cos = 1, identical = 0;
  for (int64_t i = 0; i < n; ++i) {
    double dot = 0, nq = 0, nf = 0;
    bool same = true;
    for (int64_t k = 0; k < q.dim; ++k) {
      const double a = q.vectors[static_cast<size_t>(i * q.dim + k)], b = f.vectors[static_cast<size_t>(i * q.dim + k)];
      dot += a * b, nq += a * a, nf += b * b;
      same = same && a == b;
    }
    worst_cos = std::min(worst_cos, dot / std::sqrt(nq * nf));
    identical += same ? 1 : 0;
  }
  EXPECT_GT(worst_cos, 0.99) << "int8 rows must point where the float32 rows do";
  EXPECT_LT(identical, n / 2.0) << "the int8 products must have run (rows differ from float32's)";
  ws.embed(2, "q2/", "--precision int8 --dtype float32");
  expect_same_rows(q, read_rows(ws.path("q2/manifest.json")), n, 0.05);
  const std::string gpu = ws.fid_fails(1, "embed-passages --model_path " + ws.path("ret") + " --passages " +
                                             ws.passages() + " --output_path " + ws.path("g/") +
                                             " --precision int8 --device cuda");
  EXPECT_NE(gpu.find("--device"), std::string::npos) << gpu;
}

TEST(EmbedRanks, SameRowsFloat16AndWithoutPassageMask) {
  EmbedWorkspace ws(150, {"ret", "ret_nomask"});
  const int64_t n = passage_count(ws);
  // Default storage is float16.
  ws.embed(1, "h1/", "--no_fp16");
  ws.embed(3, "h3/", "--no_fp16 --tokenizer_threads 1 --per-gpu-batch-size 5");
  EmbeddedRows h1 = read_rows(ws.path("h1/manifest.json"));
  EmbeddedRows h3 = read_rows(ws.path("h3/manifest.json"));
  EXPECT_EQ(h1.dtype, sharding::EmbeddingDtype::kFloat16);
  expect_same_rows(h1, h3, n, 0);
  // float16 rows are the float32 rows rounded: within one float16 step.
  ws.embed(2, "f2/", "--no_fp16 --dtype float32");
  EmbeddedRows f2 = read_rows(ws.path("f2/manifest.json"));
  expect_same_rows(h1, f2, n, 0);
  // A model that does not mask passage padding pads every passage to
  // passage_maxlength; the result is still independent of the ranks.
  std::string log = ws.embed(1, "m1/", "--no_fp16 --dtype float32", "ret_nomask");
  EXPECT_NE(log.find("padded to passage_maxlength"), std::string::npos) << log;
  ws.embed(2, "m2/", "--no_fp16 --dtype float32", "ret_nomask");
  EmbeddedRows m1 = read_rows(ws.path("m1/manifest.json"));
  EmbeddedRows m2 = read_rows(ws.path("m2/manifest.json"));
  expect_same_rows(m1, m2, n, 1e-5);
  // Padding counts: the masked and unmasked models give different vectors.
  double diff = 0;
  for (size_t k = 0; k < m1.vectors.size(); ++k) diff += std::fabs(m1.vectors[k] - f2.vectors[k]);
  EXPECT_GT(diff, 1e-2);
}

}  // namespace
}  // namespace fid::testing
