#include "retrieval/evaluate_job.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/example_reader.h"
#include "data/passages.h"
#include "text/metrics.h"

namespace fid::retrieval {

void EvaluateRetrievalOptions::validate() const {
  FID_CHECK(workers >= 0, "--validation_workers must be >= 0");
  FID_CHECK(path_exists(data), "retrieval file '", data, "' does not exist (--data)");
  text::parse_answer_match(match, "--match");
}

nlohmann::json evaluate_retrieval(const EvaluateRetrievalOptions& o) {
  o.validate();
  const text::AnswerMatch match = text::parse_answer_match(o.match, "--match");
  std::unique_ptr<data::PassageStore> store;
  if (!o.passages.empty()) store = std::make_unique<data::PassageStore>(o.passages);

  data::ExampleReader reader(o.data);
  data::Example ex;
  std::vector<text::RetrievedQuestion> chunk;
  std::vector<int64_t> hits;  // hits[j]: questions answered within the first j+1 passages
  int64_t questions = 0;
  bool first = true;
  // has_answer is matched a chunk of questions at a time, over the workers.
  auto flush = [&] {
    if (chunk.empty()) return;
    text::TopKAccuracy acc = text::top_k_accuracy(chunk, o.workers, match);
    for (const auto& qh : acc.question_hits) text::count_first_hit(qh, hits);
    chunk.clear();
  };
  while (reader.next(ex)) {
    ++questions;
    if (first) {
      // The seed sizes the table by the first question's passages.
      hits.assign(ex.ctxs.size(), 0);
      first = false;
    }
    if (o.use_hasanswer) {
      std::vector<uint8_t> qh;
      for (size_t j = 0; j < ex.ctxs.size(); ++j) {
        FID_CHECK(ex.ctxs[j].hasanswer >= 0, "'", o.data, "' question ", reader.index(), " ctx ", j,
                  " has no hasanswer field: drop --use_hasanswer to match the answers in the text");
        qh.push_back(ex.ctxs[j].hasanswer > 0);
      }
      text::count_first_hit(qh, hits);
      continue;
    }
    text::RetrievedQuestion q;
    q.answers = ex.answers;
    for (size_t j = 0; j < ex.ctxs.size(); ++j) {
      std::string textv = ex.ctxs[j].text;
      data::Passage p;
      if (textv.empty() && store && store->find(ex.ctxs[j].id, p)) textv = p.text;
      q.missing.push_back(textv.empty());  // the seed counts a missing text as no answer
      q.passages.push_back(std::move(textv));
    }
    chunk.push_back(std::move(q));
    if (chunk.size() >= 4096) flush();
  }
  flush();
  FID_CHECK(questions > 0, "'", o.data, "' holds no questions");

  nlohmann::json metrics = {{"questions", questions}, {"n_docs", hits.size()}};
  std::string line = "Evaluate results from " + o.data + ":";
  for (int k : {1, 5, 10, 20, 50, 100}) {
    if (static_cast<size_t>(k) > hits.size()) break;
    const double acc = static_cast<double>(hits[static_cast<size_t>(k) - 1]) / static_cast<double>(questions);
    metrics["top" + std::to_string(k)] = acc;
    char buf[32];
    std::snprintf(buf, sizeof buf, " R@%d: %.1f", k, 100.0 * acc);
    line += buf;
  }
  log::info(line);
  if (!o.output.empty()) write_json_atomic(o.output, metrics);
  return metrics;
}

}  // namespace fid::retrieval
