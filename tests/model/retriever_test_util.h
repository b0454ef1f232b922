// Shared helpers of the BERT / retriever tests: nested JSON lists as tensors,
// the fixture retriever composed from bert/ and retriever_proj/, tolerances.
#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/files.h"
#include "model/retriever.h"
#include "model/retriever_io.h"
#include "model/safetensors.h"
#include "support/test_util.h"

namespace fid::testing {

// A rectangular nested JSON list of numbers -> tensor of `dtype`.
inline at::Tensor json_tensor(const nlohmann::json& j, at::ScalarType dtype) {
  std::vector<int64_t> shape;
  const nlohmann::json* cur = &j;
  while (cur->is_array()) {
    shape.push_back(static_cast<int64_t>(cur->size()));
    if (cur->empty()) break;
    cur = &(*cur)[0];
  }
  std::vector<double> flat;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& x) {
    if (x.is_array()) {
      for (const auto& e : x) walk(e);
    } else {
      flat.push_back(x.get<double>());
    }
  };
  walk(j);
  at::Tensor t = at::tensor(flat, at::kDouble);
  int64_t expected = 1;
  for (int64_t d : shape) expected *= d;
  EXPECT_EQ(t.numel(), expected) << "ragged JSON list";
  return t.view(shape).to(dtype);
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// The fixture retriever's tensors: bert/model.safetensors under "model." plus,
// when `projection`, retriever_proj/model.safetensors (proj.*, norm.*).
inline model::TensorMap fixture_retriever_tensors(bool projection) {
  const std::string dir = fixtures_dir();
  model::TensorMap out;
  for (auto& [k, v] : model::read_safetensors(join_path(dir, "bert/model.safetensors")))
    out["model." + k] = v;
  if (projection)
    for (auto& [k, v] : model::read_safetensors(join_path(dir, "retriever_proj/model.safetensors")))
      out[k] = v;
  return out;
}

// retriever_proj/config.json with a variant's flags.
inline model::RetrieverConfig fixture_retriever_config(bool projection, int64_t indexing_dimension,
                                                       bool qmask, bool pmask, bool cls) {
  model::RetrieverConfig c = model::read_retriever_config(join_path(fixtures_dir(), "retriever_proj"));
  c.projection = projection;
  c.indexing_dimension = indexing_dimension;
  c.apply_question_mask = qmask;
  c.apply_passage_mask = pmask;
  c.extract_cls = cls;
  return c;
}

struct RetrieverInputs {
  at::Tensor question_ids, question_mask;  // (B, Lq)
  at::Tensor passage_ids, passage_mask;    // (B, N, Lp)
  at::Tensor gold_score;                   // (B, N)
};

inline RetrieverInputs fixture_retriever_inputs() {
  const nlohmann::json j = read_json_file(join_path(fixtures_dir(), "retriever_inputs.json"));
  RetrieverInputs in;
  in.question_ids = json_tensor(j.at("question_ids"), at::kLong);
  // FiD's collator gives bool masks (it negates them with ~ in embed_text).
  in.question_mask = json_tensor(j.at("question_mask"), at::kBool);
  in.passage_ids = json_tensor(j.at("passage_ids"), at::kLong);
  in.passage_mask = json_tensor(j.at("passage_mask"), at::kBool);
  in.gold_score = json_tensor(j.at("gold_score"), at::kFloat);
  return in;
}

}  // namespace fid::testing
