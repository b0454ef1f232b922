// BM25 over one shard of the passages, scored with collection statistics
// (N, df, avgdl) of the whole collection so that a sharded index ranks exactly
// as one index would:
//   score(q, d) = sum_t idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
//   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
// A query term that repeats counts once per occurrence. Tokenisation is the
// caller's (fid_text's word tokenizer): this library sees terms only.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fid::index {

struct Bm25Params {
  double k1 = 0.9;  // Anserini's defaults
  double b = 0.4;
};

struct Bm25Stats {
  int64_t num_docs = 0;
  double avg_doc_length = 0;
  std::unordered_map<std::string, int64_t> df;  // for the query terms
};

struct Bm25Hit {
  double score;
  int64_t id;  // global passage row
};

// What one search() did, for tests and benchmarks to see that pruning skips
// work: `postings_total` is what exhaustive scoring would score.
struct Bm25SearchCounters {
  int64_t postings_total = 0;
  int64_t postings_scored = 0;  // term scores computed
  int64_t docs_scored = 0;      // candidates scored on every query term
  bool pruned = false;          // whether bounds were usable for this query
};

class Bm25Index {
 public:
  // Documents in any order; `global_id` is the passage's row in the collection.
  void add(int64_t global_id, const std::vector<std::string>& terms);
  // Packs the postings; no add() after it.
  void finalize();

  int64_t num_docs() const { return static_cast<int64_t>(doc_ids_.size()); }
  int64_t total_length() const { return total_length_; }
  // This shard's document frequency of each term (0 when absent).
  std::vector<int64_t> document_frequencies(const std::vector<std::string>& terms) const;

  // The k best documents of this shard, best first, ties by smaller global id.
  // Documents sharing no term with the query are not returned. Document at a
  // time with MaxScore pruning (bm25_search.cpp); the result, scores included
  // bit for bit, is that of search_exhaustive().
  std::vector<Bm25Hit> search(const std::vector<std::string>& query, const Bm25Stats& stats,
                              const Bm25Params& params, int k,
                              Bm25SearchCounters* counters = nullptr) const;
  // Reference: every posting of every query term into a shard-sized
  // accumulator. For tests and benchmarks; search() is the one to use.
  std::vector<Bm25Hit> search_exhaustive(const std::vector<std::string>& query,
                                         const Bm25Stats& stats, const Bm25Params& params,
                                         int k) const;

  // Versioned binary file; `meta` (e.g. passages fingerprint and row range) is
  // stored verbatim and returned by load() for the caller to check.
  void save(const std::string& path, const std::string& meta) const;
  static Bm25Index load(const std::string& path, std::string* meta);

 private:
  int32_t term_id(const std::string& term) const;
  // (term id, occurrences in the query) in the order both searches sum in.
  std::vector<std::pair<int32_t, int>> query_terms(const std::vector<std::string>& query) const;
  // Fills the bound_* arrays from the postings (finalize() and load()).
  void compute_bounds();
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> terms_;
  std::vector<int64_t> doc_ids_;
  std::vector<uint32_t> doc_lengths_;
  int64_t total_length_ = 0;
  // Build-time postings per term, then CSR after finalize().
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> building_;
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> post_docs_;
  std::vector<uint32_t> post_tfs_;
  // Per term, the postings' (tf, dl) Pareto front: no other posting has a
  // larger tf and a smaller dl. A term's score grows with tf and falls with dl
  // (k1 >= 0, 0 <= b <= 1), so its maximum over the postings lies on the front,
  // whatever k1, b, idf and avgdl a query brings. Derived, not saved.
  std::vector<uint64_t> bound_offsets_;
  std::vector<uint32_t> bound_tfs_;
  std::vector<uint32_t> bound_dls_;
  bool finalized_ = false;
};

// Brute-force check helper and the query-side formula, shared with tests.
double bm25_idf(int64_t num_docs, int64_t df);

// One term's score in one document; both searches use this very expression so
// that their sums agree to the bit. `idf` includes the query weight.
inline double bm25_term_score(double idf, double tf, uint32_t dl, double k1, double b,
                              double avgdl) {
  const double norm = k1 * (1.0 - b + b * dl / avgdl);
  return idf * tf * (k1 + 1.0) / (tf + norm);
}

}  // namespace fid::index
