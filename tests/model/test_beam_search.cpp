// Generation equals Hugging Face's generate() on the FiD reader, every run of
// fid_beam_search.json (greedy and beam search, min_length, length penalty,
// early stopping, several returned sequences; 4.28.1 and 3.0.2 rules):
// ids, hypothesis lengths and beam origins exactly, scores within 1e-4.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "model/beam_search.h"
#include "model/fid.h"
#include "model/t5_io.h"
#include "support/test_util.h"

using namespace fid::model;
using fid::testing::fixtures_dir;

namespace {

nlohmann::json reference() { return fid::read_json_file(fixtures_dir() + "/fid_beam_search.json"); }

// (rows, width) int64 from nested JSON lists.
at::Tensor int_rows(const nlohmann::json& j) {
  std::vector<int64_t> flat;
  for (const auto& row : j)
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(j.size()), -1});
}

class BeamSearchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(BeamSearchParity, EveryRunEqualsTheReference) {
  const nlohmann::json ref = reference();
  const nlohmann::json& m = ref["models"][GetParam()];
  auto t5 = load_t5(fixtures_dir() + "/" + m["model_dir"].get<std::string>());
  t5->eval();
  FidReader reader(t5);
  const nlohmann::json in = fid::read_json_file(fixtures_dir() + "/" + m["inputs"].get<std::string>());
  at::Tensor all_ids = at::stack({int_rows(in["passage_ids"][0]), int_rows(in["passage_ids"][1])});
  at::Tensor all_mask = at::stack({int_rows(in["passage_mask"][0]), int_rows(in["passage_mask"][1])});
  ASSERT_EQ(in["passage_ids"].size(), 2u);
  int runs = 0;
  for (const auto& run : m["runs"]) {
    SCOPED_TRACE(run["case"].get<std::string>() + " examples " + run["examples"].dump());
    at::Tensor pick = at::tensor(run["examples"].get<std::vector<int64_t>>(), at::kLong);
    at::Tensor ids = all_ids.index_select(0, pick), mask = all_mask.index_select(0, pick);  // (B, N, L)
    const nlohmann::json& kw = run["generate_kwargs"];
    GenerationOptions o;
    o.max_length = kw["max_length"].get<int64_t>();
    o.min_length = kw.value("min_length", 0);
    o.num_beams = kw.value("num_beams", 1);
    o.length_penalty = kw.value("length_penalty", 1.0);
    o.early_stopping = kw.value("early_stopping", false);
    o.num_return_sequences = kw.value("num_return_sequences", 1);
    const at::Tensor want = int_rows(run["sequences"]);
    if (o.num_beams == 1) {
      FidGeneration g = reader.generate(ids, mask, o.max_length, false, o.min_length);
      EXPECT_TRUE(at::equal(g.ids, want)) << g.ids << "\nwant\n" << want;
      EXPECT_EQ(g.ids.size(1) - 1, run["n_decoder_calls"].get<int64_t>());
      ++runs;
      continue;
    }
    BeamSearchResult r = beam_search(reader, ids, mask, o);
    ASSERT_EQ(r.ids.sizes(), want.sizes()) << r.ids << "\nwant\n" << want;
    EXPECT_TRUE(at::equal(r.ids, want)) << r.ids << "\nwant\n" << want;
    EXPECT_EQ(r.decoder_steps, run["n_decoder_calls"].get<int64_t>());
    ASSERT_EQ(r.hypotheses.size(), run["sequences_scores"].size());
    for (size_t i = 0; i < r.hypotheses.size(); ++i) {
      const Hypothesis& h = r.hypotheses[i];
      EXPECT_NEAR(h.score, run["sequences_scores"][i].get<double>(), 1e-4) << "row " << i;
      EXPECT_NEAR(h.sum_logprobs, run["hyp_sum_logprobs"][i].get<double>(), 1e-4) << "row " << i;
      EXPECT_EQ(static_cast<int64_t>(h.tokens.size()), run["hyp_lengths"][i].get<int64_t>()) << "row " << i;
      if (run.contains("beam_indices") && !run["beam_indices"].is_null()) {
        // Per generated token, then -1 to the row's width.
        std::vector<int64_t> got = h.beam_indices;
        const auto& w = run["beam_indices"][i];
        got.resize(w.size(), -1);
        EXPECT_EQ(got, w.get<std::vector<int64_t>>()) << "row " << i;
      }
    }
    ++runs;
  }
  EXPECT_EQ(runs, static_cast<int>(m["runs"].size()));
  EXPECT_GT(runs, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, BeamSearchParity, ::testing::Values("t5_v1_0", "t5_v1_1", "t5_v302"),
                         [](const auto& info) { return info.param; });

TEST(BeamSearchOptions, BadOptionsAreNamed) {
  GenerationOptions o;
  o.num_beams = 2;
  o.num_return_sequences = 3;
  EXPECT_NE(fid::testing::error_of([&] { check_generation_options(o); }).find("--num_return_sequences"),
            std::string::npos);
  o = GenerationOptions{};
  o.num_beams = 0;
  EXPECT_NE(fid::testing::error_of([&] { check_generation_options(o); }).find("--num_beams"), std::string::npos);
  o = GenerationOptions{};
  o.max_length = 1;
  EXPECT_NE(fid::testing::error_of([&] { check_generation_options(o); }).find("--max_length"), std::string::npos);
}

}  // namespace
