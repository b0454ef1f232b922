// Merging per-shard top-k lists into the global top-k (faiss's
// merge_knn_results, max-inner-product order, ties broken by the smaller
// global id so the result does not depend on how rows were sharded), and
// the distributed search core shared by dense (FAISS) and BM25 retrieval.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fid::dist { class Communicator; }

namespace fid::sharding {

// Lists of nq * k entries, row-major by query; id -1 marks an empty slot
// (a shard with fewer than k rows), whose score is ignored.
struct TopK {
  int64_t nq = 0;
  int k = 0;
  std::vector<float> scores;  // (nq, k), descending per query
  std::vector<int64_t> ids;   // (nq, k), global ids, -1 = none
};

// True when (score a, id a) ranks before (score b, id b).
inline bool ranks_before(float sa, int64_t ia, float sb, int64_t ib) {
  return sa > sb || (sa == sb && ia < ib);
}

// Sorts each query's list in place by (score desc, id asc), empties last.
void sort_topk(TopK& t);
// Merges lists that hold the same nq queries into the best k per query.
// Input lists may have any k each; each must be sorted (sort_topk).
TopK merge_topk(const std::vector<const TopK*>& parts, int k);

// Searches nq queries (all ranks' queries, concatenated in rank order) in
// this rank's part of the collection; writes (nq, k) scores and global ids
// sorted per query, -1 ids where fewer than k exist.
using SearchCallback =
    std::function<void(const std::string& queries, int64_t nq, int k, float* scores, int64_t* ids)>;

// The distributed search core. Each rank passes its own queries as bytes
// (`local_nq` of them, encoded so that concatenating every rank's bytes
// gives one valid batch — e.g. packed float vectors, or length-prefixed
// strings); the queries are all-gathered, every rank searches all of them in
// its shards, the (score, id) lists go to each query's owner, which merges
// them. Returns the global top-k of this rank's queries, in their order.
TopK distributed_search(dist::Communicator& comm, const std::string& local_queries,
                        int64_t local_nq, int k, const SearchCallback& search);

// Dense form: local_queries is (local_nq, dim) row-major; `search` receives
// all queries as a float matrix. With batch > 0, queries go in rounds of at
// most `batch` per rank, bounding memory for large question sets (every
// rank takes part in every round, also once its own queries are done).
using DenseSearchCallback =
    std::function<void(const float* queries, int64_t nq, int k, float* scores, int64_t* ids)>;
TopK distributed_search_dense(dist::Communicator& comm, const float* local_queries,
                              int64_t local_nq, int64_t dim, int k,
                              const DenseSearchCallback& search, int64_t batch = 0);

// The same for queries dealt round-robin: rank r holds queries i % W == r of
// one list (owned_items). `search` sees them in the list's order, in global
// rounds of `batch` (0: one round), so every query is searched in the same
// batch on any number of ranks: batched inner products (BLAS) round by the
// batch's shape, and this makes results independent of the world size.
TopK distributed_search_dealt(dist::Communicator& comm, const float* local_queries,
                              int64_t local_nq, int64_t dim, int k,
                              const DenseSearchCallback& search, int64_t batch = 0);

// Length-prefixed strings (for BM25 query text): concatenations of encoded
// batches decode as one batch.
std::string encode_strings(const std::vector<std::string>& items);
std::vector<std::string> decode_strings(const std::string& bytes);

}  // namespace fid::sharding
