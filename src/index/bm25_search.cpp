// BM25 query evaluation: document at a time with MaxScore pruning (Turtle &
// Flood 1995), and the exhaustive term-at-a-time reference it must equal.
//
// Exactness: both paths score a (term, document) pair with bm25_term_score()
// and sum a document's terms in query_terms() order starting from 0.0, so a
// document's score is the same double in both. The top k under (score desc,
// global id asc) is then the same set in the same order. Pruning only skips a
// document whose score provably stays below the k-th best so far; the bounds
// carry a relative slack that covers the rounding of the bound arithmetic and
// of the different summation order used for the pruning decisions.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/error.h"
#include "index/bm25.h"

namespace fid::index {
namespace {

constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
// Rounding makes a computed bound or partial sum off by a few ulps (~1e-16
// relative per operation, all terms positive); 1e-9 covers that for any query
// length while pruning as well as an exact bound would.
constexpr double kSlack = 1.0 + 1e-9;

bool better(const Bm25Hit& a, const Bm25Hit& c) {
  return a.score != c.score ? a.score > c.score : a.id < c.id;
}

// One query term's posting list, walked in increasing document order.
struct Cursor {
  const uint32_t* docs;
  const uint32_t* tfs;
  size_t pos = 0;
  size_t end = 0;
  uint32_t doc = kEnd;  // docs[pos], kEnd once exhausted
  double idf = 0;       // including the query weight
  double bound = 0;     // max score of this term over its postings
  size_t slot = 0;      // position in the summation order

  void settle() { doc = pos < end ? docs[pos] : kEnd; }
  void advance() {
    ++pos;
    settle();
  }
  // First posting at or after `target`: gallop, then binary search, since the
  // lists skipped this way are the long ones.
  void seek(uint32_t target) {
    if (doc >= target) return;
    size_t lo = pos + 1, hi = pos + 1, step = 1;
    while (hi < end && docs[hi] < target) {
      lo = hi + 1;
      hi += step;
      step *= 2;
    }
    pos = static_cast<size_t>(std::lower_bound(docs + lo, docs + std::min(hi, end), target) - docs);
    settle();
  }
};

}  // namespace

std::vector<std::pair<int32_t, int>> Bm25Index::query_terms(
    const std::vector<std::string>& query) const {
  // Repeated query terms count once per occurrence: weight = occurrences. The
  // summation order is this map's iteration order, as it has been since the
  // first release: another order would move scores by an ulp and reorder ties
  // against saved retrieval runs.
  std::unordered_map<int32_t, int> weights;
  for (const auto& term : query) {
    int32_t t = term_id(term);
    if (t >= 0) ++weights[t];
  }
  return {weights.begin(), weights.end()};
}

void Bm25Index::compute_bounds() {
  const size_t n_terms = offsets_.empty() ? 0 : offsets_.size() - 1;
  bound_offsets_.assign(1, 0);
  bound_offsets_.reserve(n_terms + 1);
  bound_tfs_.clear();
  bound_dls_.clear();
  std::vector<uint64_t> min_dl;  // by tf
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  for (size_t t = 0; t < n_terms; ++t) {
    const uint64_t b = offsets_[t], e = offsets_[t + 1];
    uint32_t max_tf = 0;
    for (uint64_t o = b; o < e; ++o) max_tf = std::max(max_tf, post_tfs_[o]);
    // Sweep tf downwards keeping each tf's smallest dl that beats every larger
    // tf's. Indexing by tf is linear; a (corrupt or odd) huge tf sorts instead.
    pairs.clear();
    if (max_tf <= (1u << 16)) {
      min_dl.assign(max_tf + 1, std::numeric_limits<uint64_t>::max());
      for (uint64_t o = b; o < e; ++o) {
        uint64_t& m = min_dl[post_tfs_[o]];
        m = std::min<uint64_t>(m, doc_lengths_[post_docs_[o]]);
      }
      for (uint32_t tf = max_tf + 1; tf-- > 0;) {
        if (min_dl[tf] != std::numeric_limits<uint64_t>::max()) {
          pairs.emplace_back(tf, static_cast<uint32_t>(min_dl[tf]));
        }
      }
    } else {
      for (uint64_t o = b; o < e; ++o) pairs.emplace_back(post_tfs_[o], doc_lengths_[post_docs_[o]]);
      std::sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
      });
    }
    uint64_t best = std::numeric_limits<uint64_t>::max();
    for (const auto& [tf, dl] : pairs) {
      if (dl < best) {
        bound_tfs_.push_back(tf);
        bound_dls_.push_back(dl);
        best = dl;
      }
    }
    bound_offsets_.push_back(bound_tfs_.size());
  }
}

std::vector<Bm25Hit> Bm25Index::search_exhaustive(const std::vector<std::string>& query,
                                                  const Bm25Stats& stats,
                                                  const Bm25Params& params, int k) const {
  FID_CHECK(finalized_, "BM25 index: finalize() before querying");
  if (k <= 0 || doc_ids_.empty() || stats.num_docs == 0) return {};
  std::vector<double> acc(doc_ids_.size(), 0.0);
  std::vector<uint32_t> touched;
  const double k1 = params.k1;
  const double b = params.b;
  const double avgdl = stats.avg_doc_length > 0 ? stats.avg_doc_length : 1.0;
  for (const auto& [t, w] : query_terms(query)) {
    auto df_it = stats.df.find(terms_[t]);
    FID_CHECK(df_it != stats.df.end(), "BM25: no collection df for query term '", terms_[t], "'");
    const double idf = bm25_idf(stats.num_docs, df_it->second) * w;
    for (uint64_t o = offsets_[t]; o < offsets_[t + 1]; ++o) {
      const uint32_t d = post_docs_[o];
      if (acc[d] == 0.0) touched.push_back(d);
      acc[d] += bm25_term_score(idf, post_tfs_[o], doc_lengths_[d], k1, b, avgdl);
    }
  }
  std::vector<Bm25Hit> hits;
  hits.reserve(touched.size());
  for (uint32_t d : touched) hits.push_back({acc[d], doc_ids_[d]});
  const size_t keep = std::min(hits.size(), static_cast<size_t>(k));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(), better);
  hits.resize(keep);
  return hits;
}

std::vector<Bm25Hit> Bm25Index::search(const std::vector<std::string>& query,
                                       const Bm25Stats& stats, const Bm25Params& params, int k,
                                       Bm25SearchCounters* counters) const {
  FID_CHECK(finalized_, "BM25 index: finalize() before querying");
  Bm25SearchCounters local;
  Bm25SearchCounters& count = counters != nullptr ? *counters : local;
  count = {};
  if (k <= 0 || doc_ids_.empty() || stats.num_docs == 0) return {};
  const double k1 = params.k1;
  const double b = params.b;
  const double avgdl = stats.avg_doc_length > 0 ? stats.avg_doc_length : 1.0;
  // The bounds hold when a term's score rises with tf and falls with dl and
  // every term adds a positive amount (idf > 0: df <= N). Otherwise (odd
  // parameters or statistics) every document is scored, still at a time.
  bool prune = k1 >= 0 && std::isfinite(k1) && b >= 0 && b <= 1 && std::isfinite(avgdl);
  const auto terms = query_terms(query);
  const size_t n = terms.size();
  std::vector<Cursor> cur(n);
  for (size_t i = 0; i < n; ++i) {
    const auto [t, w] = terms[i];
    auto df_it = stats.df.find(terms_[t]);
    FID_CHECK(df_it != stats.df.end(), "BM25: no collection df for query term '", terms_[t], "'");
    Cursor& x = cur[i];
    x.docs = post_docs_.data() + offsets_[t];
    x.tfs = post_tfs_.data() + offsets_[t];
    x.end = static_cast<size_t>(offsets_[t + 1] - offsets_[t]);
    x.idf = bm25_idf(stats.num_docs, df_it->second) * w;
    x.slot = i;
    x.settle();
    for (uint64_t j = bound_offsets_[t]; j < bound_offsets_[t + 1]; ++j) {
      x.bound = std::max(x.bound, bm25_term_score(x.idf, bound_tfs_[j], bound_dls_[j], k1, b, avgdl));
    }
    prune = prune && x.idf > 0 && std::isfinite(x.bound);
    count.postings_total += static_cast<int64_t>(x.end);
  }
  count.pruned = prune;
  // Ascending bounds: the first `essential` cursors are the non-essential ones,
  // whose bounds together (prefix[i] for cursors 0..i) cannot reach the k-th
  // best score, so only the others propose candidates.
  std::stable_sort(cur.begin(), cur.end(), [](const Cursor& x, const Cursor& y) { return x.bound < y.bound; });
  std::vector<double> prefix(n);
  for (size_t i = 0; i < n; ++i) prefix[i] = (i > 0 ? prefix[i - 1] : 0.0) + cur[i].bound;

  double threshold = -std::numeric_limits<double>::infinity();
  auto below = [&](double bound) { return bound * kSlack < threshold; };
  const size_t kk = static_cast<size_t>(k);
  std::vector<Bm25Hit> heap;  // worst of the best k at the front
  heap.reserve(std::min(kk, doc_ids_.size()));
  std::vector<double> contrib(n);
  std::vector<char> hit(n, 0);
  size_t essential = 0;
  uint32_t d = kEnd;
  for (const Cursor& x : cur) d = std::min(d, x.doc);
  auto score_into = [&](const Cursor& x, uint32_t doc) {
    const double s = bm25_term_score(x.idf, x.tfs[x.pos], doc_lengths_[doc], k1, b, avgdl);
    contrib[x.slot] = s;
    hit[x.slot] = 1;
    ++count.postings_scored;
    return s;
  };
  while (essential < n && d != kEnd) {
    double partial = 0.0;  // in bound order: for pruning decisions only
    uint32_t next = kEnd;
    for (size_t i = essential; i < n; ++i) {
      Cursor& x = cur[i];
      if (x.doc == d) {
        partial += score_into(x, d);
        x.advance();
      }
      next = std::min(next, x.doc);
    }
    bool alive = true;
    for (size_t i = essential; i-- > 0;) {
      if (below(partial + prefix[i])) {
        alive = false;
        break;
      }
      Cursor& x = cur[i];
      x.seek(d);
      if (x.doc == d) partial += score_into(x, d);
    }
    double total = 0.0;  // the summation order of search_exhaustive()
    for (size_t j = 0; j < n; ++j) {
      if (hit[j]) total += contrib[j];
      hit[j] = 0;
    }
    if (alive) {
      ++count.docs_scored;
      const Bm25Hit h{total, doc_ids_[d]};
      if (heap.size() < kk) {
        heap.push_back(h);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(h, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = h;
        std::push_heap(heap.begin(), heap.end(), better);
      }
      if (prune && heap.size() == kk) {
        threshold = heap.front().score;
        while (essential < n && below(prefix[essential])) ++essential;
      }
    }
    d = next;
  }
  std::sort_heap(heap.begin(), heap.end(), better);
  return heap;
}

}  // namespace fid::index
