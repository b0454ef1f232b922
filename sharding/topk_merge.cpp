#include "sharding/topk_merge.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "dist/communicator.h"

namespace fid::sharding {
namespace {
constexpr float kEmptyScore = -std::numeric_limits<float>::infinity();

// Wire format of one rank's result slice: nq, k, then scores, then ids.
std::string pack(const TopK& t, int64_t q_begin, int64_t q_end) {
  const int64_t nq = q_end - q_begin;
  const size_t cells = static_cast<size_t>(nq * t.k);
  std::string out(16 + cells * (sizeof(float) + sizeof(int64_t)), '\0');
  int64_t header[2] = {nq, t.k};
  std::memcpy(out.data(), header, 16);
  std::memcpy(out.data() + 16, t.scores.data() + q_begin * t.k, cells * sizeof(float));
  std::memcpy(out.data() + 16 + cells * sizeof(float), t.ids.data() + q_begin * t.k,
              cells * sizeof(int64_t));
  return out;
}

TopK unpack(const std::string& bytes) {
  FID_CHECK(bytes.size() >= 16, "malformed top-k message (", bytes.size(), " bytes)");
  int64_t header[2];
  std::memcpy(header, bytes.data(), 16);
  TopK t;
  t.nq = header[0];
  t.k = static_cast<int>(header[1]);
  const size_t cells = static_cast<size_t>(t.nq * t.k);
  FID_CHECK(bytes.size() == 16 + cells * (sizeof(float) + sizeof(int64_t)),
            "malformed top-k message: ", bytes.size(), " bytes for ", t.nq, " x ", t.k);
  t.scores.resize(cells);
  t.ids.resize(cells);
  std::memcpy(t.scores.data(), bytes.data() + 16, cells * sizeof(float));
  std::memcpy(t.ids.data(), bytes.data() + 16 + cells * sizeof(float), cells * sizeof(int64_t));
  return t;
}
}  // namespace

void sort_topk(TopK& t) {
  std::vector<int> order(static_cast<size_t>(t.k));
  std::vector<float> s(static_cast<size_t>(t.k));
  std::vector<int64_t> id(static_cast<size_t>(t.k));
  for (int64_t q = 0; q < t.nq; ++q) {
    float* qs = t.scores.data() + q * t.k;
    int64_t* qi = t.ids.data() + q * t.k;
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      // Empty slots (id -1) sort last whatever their score.
      if ((qi[a] < 0) != (qi[b] < 0)) return qi[b] < 0;
      return ranks_before(qs[a], qi[a], qs[b], qi[b]);
    });
    for (int j = 0; j < t.k; ++j) {
      s[j] = qs[order[j]];
      id[j] = qi[order[j]];
    }
    for (int j = 0; j < t.k; ++j) {
      qs[j] = id[j] < 0 ? kEmptyScore : s[j];
      qi[j] = id[j];
    }
  }
}

TopK merge_topk(const std::vector<const TopK*>& parts, int k) {
  FID_CHECK(k >= 0, "k must be >= 0, got ", k);
  TopK out;
  out.k = k;
  out.nq = parts.empty() ? 0 : parts[0]->nq;
  for (const TopK* p : parts) {
    FID_CHECK(p->nq == out.nq, "merging top-k lists over ", p->nq, " and ", out.nq, " queries");
  }
  out.scores.assign(static_cast<size_t>(out.nq * k), kEmptyScore);
  out.ids.assign(static_cast<size_t>(out.nq * k), -1);
  std::vector<int> pos(parts.size());
  for (int64_t q = 0; q < out.nq; ++q) {
    // A k-way merge of sorted lists: each step takes the best head.
    std::fill(pos.begin(), pos.end(), 0);
    for (int j = 0; j < k; ++j) {
      int best = -1;
      float best_s = 0;
      int64_t best_id = -1;
      for (size_t p = 0; p < parts.size(); ++p) {
        const TopK& t = *parts[p];
        if (pos[p] >= t.k) continue;
        const int64_t id = t.ids[q * t.k + pos[p]];
        if (id < 0) continue;
        const float s = t.scores[q * t.k + pos[p]];
        if (best < 0 || ranks_before(s, id, best_s, best_id)) {
          best = static_cast<int>(p);
          best_s = s;
          best_id = id;
        }
      }
      if (best < 0) break;
      out.scores[q * k + j] = best_s;
      out.ids[q * k + j] = best_id;
      ++pos[best];
    }
  }
  return out;
}

TopK distributed_search(dist::Communicator& comm, const std::string& local_queries,
                        int64_t local_nq, int k, const SearchCallback& search) {
  FID_CHECK(k >= 1, "k must be >= 1, got ", k);
  const int world = comm.size();
  // Counts travel with the bytes: 8-byte header then the queries.
  std::string mine(8, '\0');
  std::memcpy(mine.data(), &local_nq, 8);
  mine += local_queries;
  std::vector<std::string> all = comm.all_gather_bytes(mine);
  FID_CHECK(static_cast<int>(all.size()) == world, "all-gather returned ", all.size(),
            " parts for ", world, " ranks");
  std::vector<int64_t> first(world + 1, 0);
  std::string queries;
  for (int r = 0; r < world; ++r) {
    int64_t n = 0;
    std::memcpy(&n, all[r].data(), 8);
    first[r + 1] = first[r] + n;
    queries.append(all[r], 8, std::string::npos);
    std::string().swap(all[r]);
  }
  const int64_t nq = first[world];

  TopK local;
  local.nq = nq;
  local.k = k;
  local.scores.assign(static_cast<size_t>(nq * k), kEmptyScore);
  local.ids.assign(static_cast<size_t>(nq * k), -1);
  if (nq > 0) search(queries, nq, k, local.scores.data(), local.ids.data());
  // Callbacks promise sorted lists; sorting again makes ties deterministic
  // even when a backend orders equal scores differently.
  sort_topk(local);

  // One gather per owner rank: rank r receives every rank's lists for its queries.
  TopK result;
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> parts = comm.gather_bytes(pack(local, first[r], first[r + 1]), r);
    if (r != comm.rank()) continue;
    std::vector<TopK> lists;
    for (const auto& p : parts) lists.push_back(unpack(p));
    std::vector<const TopK*> ptrs;
    for (const auto& l : lists) ptrs.push_back(&l);
    result = merge_topk(ptrs, k);
  }
  result.nq = local_nq;
  result.k = k;
  return result;
}

TopK distributed_search_dense(dist::Communicator& comm, const float* local_queries,
                              int64_t local_nq, int64_t dim, int k,
                              const DenseSearchCallback& search, int64_t batch) {
  FID_CHECK(dim > 0, "query dimension must be > 0");
  auto callback = [&](const std::string& q, int64_t nq, int kk, float* scores, int64_t* ids) {
    FID_CHECK(q.size() == static_cast<size_t>(nq * dim) * sizeof(float), "query batch of ",
              q.size(), " bytes is not ", nq, " x ", dim, " floats ",
              "(do all ranks use the same query dimension?)");
    // Copy into aligned float storage (string data need not be aligned).
    std::vector<float> m(static_cast<size_t>(nq * dim));
    std::memcpy(m.data(), q.data(), q.size());
    search(m.data(), nq, kk, scores, ids);
  };
  const int64_t per_round = batch > 0 ? batch : std::max<int64_t>(local_nq, 1);
  const int64_t my_rounds = (local_nq + per_round - 1) / per_round;
  const int64_t rounds = std::max<int64_t>(1, dist::all_reduce_max(comm, my_rounds));
  TopK out;
  out.nq = local_nq;
  out.k = k;
  out.scores.reserve(static_cast<size_t>(local_nq * k));
  out.ids.reserve(static_cast<size_t>(local_nq * k));
  for (int64_t r = 0; r < rounds; ++r) {
    const int64_t begin = std::min(local_nq, r * per_round);
    const int64_t n = std::min(local_nq, begin + per_round) - begin;
    std::string bytes(reinterpret_cast<const char*>(local_queries + begin * dim),
                      static_cast<size_t>(n * dim) * sizeof(float));
    TopK part = distributed_search(comm, bytes, n, k, callback);
    out.scores.insert(out.scores.end(), part.scores.begin(), part.scores.end());
    out.ids.insert(out.ids.end(), part.ids.begin(), part.ids.end());
  }
  return out;
}

namespace {
// Rank r's first owned query at or after global index g (round-robin deal).
int64_t first_owned_from(int64_t g, int r, int w) { return g <= r ? 0 : (g - r + w - 1) / w; }
}  // namespace

TopK distributed_search_dealt(dist::Communicator& comm, const float* local_queries,
                              int64_t local_nq, int64_t dim, int k,
                              const DenseSearchCallback& search, int64_t batch) {
  FID_CHECK(dim > 0, "query dimension must be > 0");
  const int w = comm.size(), me = comm.rank();
  const int64_t total = dist::all_reduce_sum(comm, local_nq);
  FID_CHECK(local_nq == first_owned_from(total, me, w), "rank ", me, " holds ", local_nq, " of ", total,
            " queries, not its round-robin share (queries i % ", w, " == ", me, ")");
  const int64_t round = batch > 0 ? batch : std::max<int64_t>(total, 1);
  const int64_t rounds = std::max<int64_t>(1, (total + round - 1) / round);
  TopK out;
  out.nq = local_nq;
  out.k = k;
  for (int64_t t = 0; t < rounds; ++t) {
    const int64_t b = t * round, e = std::min(total, b + round);
    const int64_t lo = first_owned_from(b, me, w), hi = first_owned_from(e, me, w);
    // The gathered batch comes rank after rank; `order[p]` is position p's
    // place in the list, so the callback sees the list's order.
    std::vector<int64_t> order;
    for (int s = 0; s < w; ++s) {
      for (int64_t j = first_owned_from(b, s, w); j < first_owned_from(e, s, w); ++j) order.push_back(j * w + s - b);
    }
    auto in_list_order = [&](const std::string& q, int64_t nq, int kk, float* scores, int64_t* ids) {
      FID_CHECK(nq == static_cast<int64_t>(order.size()) && q.size() == static_cast<size_t>(nq * dim) * sizeof(float),
                "round of ", nq, " queries, ", order.size(), " expected");
      // One copy: from the gathered bytes into the list's order (aligned floats).
      std::vector<float> canon(static_cast<size_t>(nq * dim));
      for (int64_t p = 0; p < nq; ++p)
        std::memcpy(canon.data() + order[p] * dim, q.data() + p * dim * sizeof(float), static_cast<size_t>(dim) * sizeof(float));
      // Start from what the caller filled in (empty lists), as a rank without
      // shards leaves them.
      std::vector<float> cs(static_cast<size_t>(nq * kk));
      std::vector<int64_t> ci(static_cast<size_t>(nq * kk));
      for (int64_t p = 0; p < nq; ++p) {
        std::memcpy(cs.data() + order[p] * kk, scores + p * kk, static_cast<size_t>(kk) * sizeof(float));
        std::memcpy(ci.data() + order[p] * kk, ids + p * kk, static_cast<size_t>(kk) * sizeof(int64_t));
      }
      search(canon.data(), nq, kk, cs.data(), ci.data());
      for (int64_t p = 0; p < nq; ++p) {
        std::memcpy(scores + p * kk, cs.data() + order[p] * kk, static_cast<size_t>(kk) * sizeof(float));
        std::memcpy(ids + p * kk, ci.data() + order[p] * kk, static_cast<size_t>(kk) * sizeof(int64_t));
      }
    };
    const std::string bytes(reinterpret_cast<const char*>(local_queries + lo * dim),
                            static_cast<size_t>((hi - lo) * dim) * sizeof(float));
    TopK part = distributed_search(comm, bytes, hi - lo, k, in_list_order);
    out.scores.insert(out.scores.end(), part.scores.begin(), part.scores.end());
    out.ids.insert(out.ids.end(), part.ids.begin(), part.ids.end());
  }
  return out;
}

std::string encode_strings(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    uint64_t n = s.size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    out += s;
  }
  return out;
}

std::vector<std::string> decode_strings(const std::string& bytes) {
  std::vector<std::string> out;
  size_t off = 0;
  while (off < bytes.size()) {
    FID_CHECK(off + 8 <= bytes.size(), "malformed string batch");
    uint64_t n = 0;
    std::memcpy(&n, bytes.data() + off, 8);
    off += 8;
    FID_CHECK(off + n <= bytes.size(), "malformed string batch");
    out.emplace_back(bytes, off, n);
    off += n;
  }
  return out;
}

}  // namespace fid::sharding
