// The FiD dataset record: one question with its answers and retrieved
// passages (ctxs), as read from and written to FiD's JSON list / JSONL files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fid::data {

struct Context {
  std::string id;  // ctx "id": DPR writes "123" or "wiki:123"; integers are kept as their text
  std::string title;
  std::string text;
  double score = 0.0;  // "score": a number or a numeric string (DPR writes strings)
  bool has_score = false;
  int hasanswer = -1;  // "hasanswer": -1 absent, 0 false, 1 true
  // "score_origin": "reader" where test-reader wrote the score (the reader's
  // cross-attention score); empty when absent (a retrieval score, or a file
  // written by another program).
  std::string score_origin;
};

// The ctx fields test-reader writes with the reader's scores.
inline constexpr const char* kScoreOriginField = "score_origin";
inline constexpr const char* kReaderScoreOrigin = "reader";
inline constexpr const char* kRetrievalScoreField = "retrieval_score";

struct Example {
  std::string id;  // "id" (string or integer); the example index when absent
  std::string question;
  std::string target;
  bool has_target = false;
  std::vector<std::string> answers;
  std::vector<Context> ctxs;
  // The element's JSON text as stored in the file, kept only with
  // ReaderOptions::keep_raw: test-reader rewrites ctx scores through it so that
  // fields this program does not know survive the round trip.
  std::string raw;
};

// Where and how a dataset file is read.
struct ReaderOptions {
  bool require_ctxs = false;  // an example without ctxs is an error
  int64_t n_context = -1;     // keep only the first n ctxs (after sorting); -1 keeps all
  // FiD's Dataset sorts ctxs by score, highest first, before keeping n_context
  // (only when the first ctx has a score); the sort is stable like Python's.
  bool sort_by_score = false;
  bool keep_raw = false;
  // Sharding by example index: this reader yields the examples whose index
  // i satisfies i % shard_world == shard_rank.
  int shard_rank = 0;
  int shard_world = 1;
  size_t buffer_bytes = 8u << 20;  // read size; grows to hold the largest example
};

enum class DatasetFormat { kJsonArray, kJsonLines };

}  // namespace fid::data
