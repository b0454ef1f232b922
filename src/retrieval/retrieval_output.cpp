#include "retrieval/retrieval_output.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/round_robin.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "dist/collectives.h"
#include "text/metrics.h"

namespace fid::retrieval {

std::vector<data::Example> read_questions(const std::string& path) {
  FID_CHECK(path_exists(path), "questions file '", path, "' does not exist (--data)");
  auto qs = data::read_examples(path);
  FID_CHECK(!qs.empty(), "questions file '", path, "' (--data) holds no questions: there is nothing to "
            "retrieve for; give a file with at least one question");
  for (size_t i = 0; i < qs.size(); ++i) {
    if (qs[i].id.empty()) qs[i].id = std::to_string(i);
    qs[i].ctxs.clear();
  }
  return qs;
}

sharding::TopK gather_topk(dist::Communicator& comm, const sharding::TopK& mine, int64_t total) {
  auto scores = dist::gather_vectors(comm, mine.scores, 0);
  auto ids = dist::gather_vectors(comm, mine.ids, 0);
  sharding::TopK all;
  all.nq = total;
  all.k = mine.k;
  if (comm.rank() != 0) return all;
  const auto k = static_cast<size_t>(mine.k);
  all.scores.assign(static_cast<size_t>(total) * k, 0.0f);
  all.ids.assign(static_cast<size_t>(total) * k, -1);
  const int world = comm.size();
  for (int r = 0; r < world; ++r) {
    const size_t n = ids[r].size() / std::max<size_t>(k, 1);
    for (size_t j = 0; j < n; ++j) {
      const auto q = static_cast<size_t>(owned_item(static_cast<int64_t>(j), r, world));
      FID_CHECK(q < static_cast<size_t>(total), "gathered more results than questions");
      std::copy_n(scores[r].begin() + static_cast<std::ptrdiff_t>(j * k), k, all.scores.begin() + static_cast<std::ptrdiff_t>(q * k));
      std::copy_n(ids[r].begin() + static_cast<std::ptrdiff_t>(j * k), k, all.ids.begin() + static_cast<std::ptrdiff_t>(q * k));
    }
  }
  return all;
}

std::map<int, double> write_retrieval(const RetrievalRun& run, const data::PassageStore& passages,
                                      const std::string& output_path,
                                      const std::map<std::string, double>& extra_metrics,
                                      int validation_workers, text::AnswerMatch match) {
  const size_t nq = run.questions.size();
  const auto k = static_cast<size_t>(run.topk.k);
  FID_CHECK(static_cast<int64_t>(nq) == run.topk.nq, "retrieval results for ", run.topk.nq,
            " questions, ", nq, " questions read");
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  auto t = Clock::now();
  std::vector<data::Example> out = run.questions;
  std::vector<text::RetrievedQuestion> eval(nq);
  for (size_t q = 0; q < nq; ++q) {
    eval[q].answers = out[q].answers;
    for (size_t j = 0; j < k; ++j) {
      const int64_t row = run.topk.ids[q * k + j];
      if (row < 0) continue;  // fewer than k passages matched
      data::Passage p = passages.row(row);
      data::Context c;
      c.id = p.id;
      c.title = p.title;
      c.text = p.text;
      c.score = run.topk.scores[q * k + j];
      c.has_score = true;
      eval[q].passages.push_back(p.text);
      out[q].ctxs.push_back(std::move(c));
    }
  }
  const double lookup_s = since(t);
  t = Clock::now();
  // has_answer over `validation_workers` threads, as the seed's validation workers.
  text::TopKAccuracy acc = text::top_k_accuracy(eval, validation_workers, match);
  const double match_s = since(t);
  t = Clock::now();
  for (size_t q = 0; q < nq; ++q) {
    for (size_t j = 0; j < out[q].ctxs.size(); ++j) out[q].ctxs[j].hasanswer = acc.question_hits[q][j];
  }
  const bool jsonl = output_path.size() > 6 && output_path.substr(output_path.size() - 6) == ".jsonl";
  data::write_examples(output_path, out, jsonl ? data::DatasetFormat::kJsonLines
                                               : data::DatasetFormat::kJsonArray);

  const double write_s = since(t);
  std::map<int, double> table;
  // Where the output stage's time went (the caller adds the earlier stages).
  nlohmann::json metrics = {{"questions", nq},
                            {"n_docs", k},
                            {"stage_passage_lookup_s", lookup_s},
                            {"stage_answer_match_s", match_s},
                            {"stage_write_s", write_s}};
  std::string line = "top-k accuracy:";
  for (int kk : {1, 5, 10, 20, 50, 100}) {
    if (static_cast<size_t>(kk) > k) break;
    table[kk] = acc.accuracy(static_cast<size_t>(kk));
    metrics["top" + std::to_string(kk)] = table[kk];
    line += " top" + std::to_string(kk) + " " + std::to_string(100.0 * table[kk]).substr(0, 5) + "%";
  }
  for (const auto& [name, v] : extra_metrics) metrics[name] = v;
  if (run.started) metrics["wall_s"] = since(*run.started);
  write_json_atomic(output_path + ".metrics.json", metrics);
  log::info(line);
  size_t fewest = k;
  for (const auto& q : out) fewest = std::min(fewest, q.ctxs.size());
  if (fewest == k) {
    log::info("wrote ", nq, " questions with ", k, " passages each to ", output_path);
  } else {
    log::info("wrote ", nq, " questions with ", fewest, " to ", k, " passages each to ", output_path,
              " (--n-docs ", k, "; fewer passages exist or matched)");
  }
  return table;
}

}  // namespace fid::retrieval
