#include "sharding/sharded_dense_index.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "dist/collectives.h"
#include "sharding/embedding_shard.h"

namespace fid::sharding {
namespace {

// The best k of (score, label) candidates, in ranks_before order, into
// scores[0..k) and labels[0..k); missing places get score 0 and label -1.
void write_best(std::vector<std::pair<float, int64_t>>& candidates, int k, float* scores, int64_t* labels) {
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return ranks_before(a.first, a.second, b.first, b.second);
  });
  for (int j = 0; j < k; ++j) {
    const bool have = j < static_cast<int>(candidates.size());
    scores[j] = have ? candidates[static_cast<size_t>(j)].first : 0.0f;
    labels[j] = have ? candidates[static_cast<size_t>(j)].second : -1;
  }
}

}  // namespace

ShardedDenseIndex::ShardedDenseIndex(dist::Communicator& comm, Manifest manifest,
                                     const index::IndexParams& params,
                                     const BuildOptions& build)
    : manifest_(std::move(manifest)),
      shards_(local_shards(manifest_, comm.rank(), comm.size())),
      local_(build_local_index(comm, manifest_, params, build)) {
  int64_t start = 0;
  for (const auto& r : shards_.ranges) {
    label_starts_.push_back(start);
    start += r.size();
  }
  read_passage_rows();
  readers_.resize(shards_.positions.size());
}

ShardedDenseIndex::~ShardedDenseIndex() = default;

// The `ids` dataset of each local shard: the passage rows themselves for
// embed-passages' shards (checked, so a subset's shards given as a glob are
// caught), or the rows a subset kept (held in memory, 8 bytes per passage).
void ShardedDenseIndex::read_passage_rows() {
  const int64_t limit = manifest_.passage_rows();
  for (size_t i = 0; i < shards_.positions.size(); ++i) {
    const auto& entry = manifest_.shards[static_cast<size_t>(shards_.positions[i])];
    EmbeddingShardReader reader(manifest_.shard_path(entry));
    const int64_t block = 1 << 20;
    std::vector<int64_t> ids;
    int64_t prev = -1;
    for (int64_t b = 0; b < reader.rows(); b += block) {
      const int64_t n = std::min(block, reader.rows() - b);
      ids.resize(static_cast<size_t>(n));
      reader.read_ids(b, n, ids.data());
      for (int64_t j = 0; j < n; ++j) {
        const int64_t id = ids[static_cast<size_t>(j)];
        if (!manifest_.is_subset()) {
          FID_CHECK(id == entry.rows.begin + b + j, "embedding shard '", reader.path(), "' row ",
                    b + j, " has id ", id, " instead of its passage row ", entry.rows.begin + b + j,
                    ": shards written by filter-passages must be given through the manifest.json "
                    "it wrote, not a glob");
        } else {
          FID_CHECK(id > prev && id < limit, "embedding shard '", reader.path(), "' row ", b + j,
                    " has id ", id, ", not an increasing passage row below ", limit,
                    "; re-run filter-passages");
          prev = id;
          subset_rows_.push_back(id);
        }
      }
    }
  }
  FID_CHECK(!manifest_.is_subset() ||
                static_cast<int64_t>(subset_rows_.size()) == local_.size(),
            "read ", subset_rows_.size(), " passage ids for ", local_.size(), " vectors");
}

void ShardedDenseIndex::set_nprobe(int nprobe) {
  for (auto& p : local_.parts) p.set_nprobe(nprobe);
}

void ShardedDenseIndex::set_ef_search(int ef) {
  for (auto& p : local_.parts) p.set_ef_search(ef);
}

void ShardedDenseIndex::search_parts(const float* queries, int64_t nq, int k, float* scores,
                                     int64_t* labels) const {
  if (local_.parts.size() == 1) {
    local_.parts[0].search(queries, nq, k, scores, labels);
    return;
  }
  const size_t nk = static_cast<size_t>(nq * k);
  std::vector<std::vector<float>> ps(local_.parts.size(), std::vector<float>(nk));
  std::vector<std::vector<int64_t>> pl(local_.parts.size(), std::vector<int64_t>(nk));
  for (size_t p = 0; p < local_.parts.size(); ++p) {
    local_.parts[p].search(queries, nq, k, ps[p].data(), pl[p].data());
    for (auto& l : pl[p]) l = l < 0 ? -1 : label_starts_[p] + l;
  }
  std::vector<std::pair<float, int64_t>> all;
  for (int64_t q = 0; q < nq; ++q) {
    all.clear();
    for (size_t p = 0; p < local_.parts.size(); ++p) {
      for (int j = 0; j < k; ++j) {
        const size_t at = static_cast<size_t>(q * k + j);
        if (pl[p][at] >= 0) all.emplace_back(ps[p][at], pl[p][at]);
      }
    }
    write_best(all, k, scores + q * k, labels + q * k);
  }
}

int64_t ShardedDenseIndex::passage_row(int64_t label) const {
  if (label < 0) return -1;
  if (manifest_.is_subset()) {
    FID_CHECK(label < static_cast<int64_t>(subset_rows_.size()), "index label ", label,
              " beyond the ", subset_rows_.size(), " vectors of this rank");
    return subset_rows_[static_cast<size_t>(label)];
  }
  return local_.ids.global_id(label);
}

void ShardedDenseIndex::rerank(const float* queries, int64_t nq, int cand, const int64_t* labels, int k,
                               float* out_scores, int64_t* out_labels) {
  const int64_t d = dim();
  // Each candidate's vector is read once per batch, runs of consecutive
  // labels in one read.
  std::vector<int64_t> uniq;
  for (int64_t i = 0; i < nq * cand; ++i) {
    if (labels[i] >= 0) uniq.push_back(labels[i]);
  }
  std::sort(uniq.begin(), uniq.end());
  uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
  std::vector<float> vecs(uniq.size() * static_cast<size_t>(d));
  for (size_t i = 0; i < uniq.size();) {
    const size_t s = static_cast<size_t>(
        std::upper_bound(label_starts_.begin(), label_starts_.end(), uniq[i]) -
        label_starts_.begin() - 1);
    const int64_t shard_end = label_starts_[s] + shards_.ranges[s].size();
    size_t j = i + 1;
    while (j < uniq.size() && uniq[j] == uniq[j - 1] + 1 && uniq[j] < shard_end) ++j;
    if (!readers_[s]) {
      const auto& entry = manifest_.shards[static_cast<size_t>(shards_.positions[s])];
      readers_[s] = std::make_unique<EmbeddingShardReader>(manifest_.shard_path(entry));
    }
    readers_[s]->read_vectors(uniq[i] - label_starts_[s], static_cast<int64_t>(j - i),
                              vecs.data() + i * static_cast<size_t>(d));
    i = j;
  }
  std::vector<std::pair<float, int64_t>> ranked;
  for (int64_t q = 0; q < nq; ++q) {
    const float* qv = queries + q * d;
    ranked.clear();
    for (int c = 0; c < cand; ++c) {
      const int64_t label = labels[q * cand + c];
      if (label < 0) continue;
      const size_t pos = static_cast<size_t>(std::lower_bound(uniq.begin(), uniq.end(), label) -
                                             uniq.begin());
      const float* v = vecs.data() + pos * static_cast<size_t>(d);
      double dot = 0;  // in double: the exact score the candidates are ranked by
      for (int64_t t = 0; t < d; ++t) dot += static_cast<double>(qv[t]) * v[t];
      ranked.emplace_back(static_cast<float>(dot), label);
    }
    write_best(ranked, k, out_scores + q * k, out_labels + q * k);
  }
}

TopK ShardedDenseIndex::search(dist::Communicator& comm, const float* queries,
                                         int64_t nq, const DenseSearchOptions& options) {
  FID_CHECK(options.k >= 1, "--n-docs must be >= 1, got ", options.k);
  FID_CHECK(options.rerank >= 0, "--rerank must be >= 0, got ", options.rerank);
  const int cand = std::max(options.k, options.rerank);
  local_search_s_ = 0;
  const DenseSearchCallback local = [&](const float* q, int64_t n, int k, float* scores, int64_t* ids) {
        if (local_.size() == 0) return;  // a rank without shards adds nothing
        const auto t0 = std::chrono::steady_clock::now();
        struct AddTime {  // also when the search throws
          double& total;
          std::chrono::steady_clock::time_point t0;
          ~AddTime() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
        } add_time{local_search_s_, t0};
        if (options.rerank > 0) {
          // Sub-batches bound the candidates' float vectors held at once.
          const int64_t sub = 64;
          std::vector<float> cs(static_cast<size_t>(sub * cand));
          std::vector<int64_t> cl(static_cast<size_t>(sub * cand));
          for (int64_t b = 0; b < n; b += sub) {
            const int64_t m = std::min(sub, n - b);
            search_parts(q + b * dim(), m, cand, cs.data(), cl.data());
            rerank(q + b * dim(), m, cand, cl.data(), k, scores + b * k, ids + b * k);
          }
        } else {
          search_parts(q, n, k, scores, ids);
        }
        for (int64_t i = 0; i < n * k; ++i) ids[i] = passage_row(ids[i]);
      };
  return options.dealt_queries
             ? distributed_search_dealt(comm, queries, nq, dim(), options.k, local, options.batch)
             : distributed_search_dense(comm, queries, nq, dim(), options.k, local, options.batch);
}

ShardedIndexSize ShardedDenseIndex::size(dist::Communicator& comm) const {
  int64_t bytes = 0;
  for (const auto& p : local_.parts) bytes += p.size_report().total_bytes;
  std::vector<int64_t> v = {local_.size(), bytes, static_cast<int64_t>(subset_rows_.size() * sizeof(int64_t))};
  comm.all_reduce_int64(v, dist::ReduceOp::kSum);
  return {v[0], v[1], v[2]};
}

}  // namespace fid::sharding
