// What `retrieve` and `bm25` write: every question with its ranked passages in
// the seed's format (ctxs of id, title, text, score, hasanswer), the top-k
// accuracy table the seed logs (k = 1, 5, 10, 20, 50, 100), and the same
// figures as JSON next to the output.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/example.h"
#include "data/passages.h"
#include "sharding/topk_merge.h"
#include "text/metrics.h"

namespace fid::retrieval {

// Merged top-k of every question, in input order (rank 0's gathered view).
struct RetrievalRun {
  std::vector<data::Example> questions;  // without ctxs
  sharding::TopK topk;                   // (questions, k), global row ids
  // When the job started: the metrics then also give `wall_s`, up to the
  // output written.
  std::optional<std::chrono::steady_clock::time_point> started;
};

// Writes `output_path` (format from its extension: .jsonl is JSON lines) and
// `<output_path>.metrics.json`; returns accuracy at each k. has_answer runs
// on `validation_workers` threads (0: all cores), matching as `match` says.
std::map<int, double> write_retrieval(const RetrievalRun& run, const data::PassageStore& passages,
                                      const std::string& output_path,
                                      const std::map<std::string, double>& extra_metrics,
                                      int validation_workers = 0,
                                      text::AnswerMatch match = text::AnswerMatch::kString);

// All questions of a dataset file (ids default to their index).
std::vector<data::Example> read_questions(const std::string& path);

// Gathers every rank's merged top-k to rank 0 in question order; ranks hold
// questions index % world == rank. Returns the full table on rank 0.
sharding::TopK gather_topk(dist::Communicator& comm, const sharding::TopK& mine, int64_t total);

}  // namespace fid::retrieval
