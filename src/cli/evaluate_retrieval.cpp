// `fid evaluate-retrieval`: the seed's evaluate_retrieved_passages.py. The
// top-k accuracy of a retrieval file: for each question, the rank of the
// first passage that contains an answer (DPR's has_answer on the ctx text,
// recomputed as the seed does), counted over the passage count of the first
// question. The file is streamed, so its size is not bounded by memory.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/example_reader.h"
#include "data/passages.h"
#include "text/metrics.h"

namespace fid::cli {
namespace {

class EvaluateRetrievalCommand : public Command {
 public:
  std::string name() const override { return "evaluate-retrieval"; }
  std::string description() const override {
    return "Top-k answer accuracy of a retrieval file (ctxs with text or hasanswer)";
  }
  bool distributed() const override { return false; }
  void add_options(CLI::App& app) override {
    app.add_option(flag("data"), data_, "retrieval file (FiD JSON or JSONL with ctxs)")->required();
    app.add_option(flag("validation_workers"), workers_,
                   "threads that check answers in passages (0: all cores)")
        ->capture_default_str();
    app.add_option(flag("match"), match_, "answer in passage: string (DPR's token match) or regex (each "
                   "answer a regular expression, DPR's --match regex for CuratedTREC)")
        ->check(CLI::IsMember({"string", "regex"}))->capture_default_str();
    app.add_option(flag("passages"), passages_,
                   "passages TSV: text of ctxs that carry only an id");
    app.add_flag(flag("use_hasanswer"), use_hasanswer_,
                 "trust each ctx's stored hasanswer instead of matching the answers in its text");
    app.add_option(flag("output_path"), output_, "write the accuracies as JSON here");
  }

  void run(dist::Communicator&) override {
    FID_CHECK(workers_ >= 0, "--validation_workers must be >= 0");
    FID_CHECK(path_exists(data_), "retrieval file '", data_, "' does not exist (--data)");
    std::unique_ptr<data::PassageStore> store;
    if (!passages_.empty()) store = std::make_unique<data::PassageStore>(passages_);

    data::ExampleReader reader(data_);
    data::Example ex;
    std::vector<text::RetrievedQuestion> chunk;
    std::vector<int64_t> hits;  // hits[j]: questions answered within the first j+1 passages
    int64_t questions = 0;
    bool first = true;
    // has_answer is matched a chunk of questions at a time, over the workers.
    auto flush = [&] {
      if (chunk.empty()) return;
      text::TopKAccuracy acc = text::top_k_accuracy(chunk, workers_, text::parse_answer_match(match_, "--match"));
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
      if (use_hasanswer_) {
        std::vector<uint8_t> qh;
        for (size_t j = 0; j < ex.ctxs.size(); ++j) {
          FID_CHECK(ex.ctxs[j].hasanswer >= 0, "'", data_, "' question ", reader.index(),
                    " ctx ", j, " has no hasanswer field: drop --use_hasanswer to match the "
                    "answers in the text");
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
    FID_CHECK(questions > 0, "'", data_, "' holds no questions");

    nlohmann::json metrics = {{"questions", questions}, {"n_docs", hits.size()}};
    std::string line = "Evaluate results from " + data_ + ":";
    for (int k : {1, 5, 10, 20, 50, 100}) {
      if (static_cast<size_t>(k) > hits.size()) break;
      const double acc = static_cast<double>(hits[static_cast<size_t>(k) - 1]) / questions;
      metrics["top" + std::to_string(k)] = acc;
      char buf[32];
      std::snprintf(buf, sizeof buf, " R@%d: %.1f", k, 100.0 * acc);
      line += buf;
    }
    log::info(line);
    std::printf("%s\n", metrics.dump().c_str());
    if (!output_.empty()) write_json_atomic(output_, metrics);
  }

 private:
  std::string data_, passages_, output_, match_ = "string";
  int workers_ = 0;
  bool use_hasanswer_ = false;
};

}  // namespace

FID_REGISTER_COMMAND(EvaluateRetrievalCommand, "evaluate-retrieval")

}  // namespace fid::cli
