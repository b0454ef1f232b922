// Writers of test-reader's outputs.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "train/reader_eval.h"

namespace fid::train {
namespace {

double score_of(const nlohmann::ordered_json& ctx) {
  const auto& s = ctx.at("score");
  return s.is_string() ? std::stod(s.get<std::string>()) : s.get<double>();
}

// The seed's Dataset.sort_data: a stable sort by float(score), highest first,
// when the first ctx has a score.
std::string rescore(const std::string& raw, const std::vector<float>& scores) {
  auto j = nlohmann::ordered_json::parse(raw);
  auto& ctxs = j["ctxs"];
  if (ctxs.is_array() && !ctxs.empty() && ctxs[0].contains("score")) {
    std::vector<nlohmann::ordered_json> v(ctxs.begin(), ctxs.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return score_of(a) > score_of(b);
    });
    ctxs = nlohmann::ordered_json(v);
  }
  FID_CHECK(ctxs.is_array() && ctxs.size() >= scores.size(), "example has fewer ctxs than scores");
  for (size_t k = 0; k < scores.size(); ++k) ctxs[k]["score"] = scores[k];
  return j.dump();
}

}  // namespace

void write_dataset_with_scores(const std::string& input, const std::string& output,
                               const std::vector<std::vector<float>>& scores) {
  data::ReaderOptions ro;
  ro.keep_raw = true;
  data::ExampleReader in(input, ro);
  data::ExampleWriter out(output, in.format());
  data::Example ex;
  size_t i = 0;
  while (in.next(ex)) {
    FID_CHECK(i < scores.size(), "'", input, "' has more examples than were scored (", scores.size(),
              "): was it modified during the run?");
    out.write_raw(rescore(ex.raw, scores[i]));
    ++i;
  }
  FID_CHECK(i == scores.size(), "'", input, "' has ", i, " examples, ", scores.size(), " were scored");
  out.close();
}

void write_answers(const std::string& path, const std::vector<std::string>& ids,
                   const std::vector<std::string>& answers) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) text += ids[i] + "\t" + answers[i] + "\n";
  write_file_atomic(path, text);
}

}  // namespace fid::train
