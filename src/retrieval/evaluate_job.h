// `fid evaluate-retrieval` (the seed's evaluate_retrieved_passages.py): the
// top-k accuracy of a retrieval file. For each question the rank of the first
// ctx that contains an answer (has_answer recomputed from the text, as the
// seed does, or the stored hasanswer), counted over the passage count of the
// first question. The file is streamed, so its size is not bounded by memory.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace fid::retrieval {

struct EvaluateRetrievalOptions {
  std::string data;      // retrieval file (FiD JSON or JSONL with ctxs)
  std::string passages;  // optional passages TSV: text of ctxs that carry only an id
  std::string output;    // optional: the accuracies as JSON
  std::string match = "string";  // string | regex (text::AnswerMatch)
  int workers = 0;       // answer-matching threads (0: all cores)
  bool use_hasanswer = false;  // trust the stored hasanswer fields

  void validate() const;
};

// {"questions", "n_docs", "top1", "top5", ...}: also logged as R@k and written
// to options.output when set.
nlohmann::json evaluate_retrieval(const EvaluateRetrievalOptions& options);

}  // namespace fid::retrieval
