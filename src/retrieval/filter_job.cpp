#include "retrieval/filter_job.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/example_reader.h"
#include "data/passages.h"
#include "dist/collectives.h"
#include "retrieval/dense_retrieval.h"
#include "sharding/embedding_shard.h"
#include "sharding/local_index.h"
#include "sharding/manifest.h"

namespace fid::retrieval {
namespace {

inline constexpr const char* kFilterFormat = "fid-passage-filter";

class FilterJob {
 public:
  explicit FilterJob(const FilterPassagesOptions& o) : o_(o) {}

  void run(dist::Communicator& comm) {
    FID_CHECK(o_.keep_fraction > 0 && o_.keep_fraction <= 1, "--keep_fraction must be in (0, 1], got ",
              o_.keep_fraction);
    FID_CHECK(o_.top_k > 0 && o_.negative_ratio > 0 && o_.max_positives > 0 && o_.block > 0,
              "--n_context, --negative_ratio, --max_positives and --indexing_batch_size must be "
              "positive");
    const std::string manifest_path = join_path(o_.output_dir, "manifest.json");
    FID_CHECK(!path_exists(manifest_path), "'", manifest_path, "' exists: filtered embeddings "
              "are already there; remove --output_dir or choose another");
    data::PassageStore store(o_.passages);
    source_ = load_checked_embeddings(o_.embeddings, o_.passages, store.size());
    local_ = sharding::local_shards(source_, comm.rank(), comm.size());

    std::vector<int64_t> positives = read_positives(comm, store);
    std::vector<float> x;
    std::vector<uint8_t> label;
    for_each_local_block([&](const float* v, const int64_t* ids, int64_t n, size_t) {
      for (int64_t i = 0; i < n; ++i) {
        const bool pos = std::binary_search(positives.begin(), positives.end(), ids[i]);
        if (!pos && row_uniform(o_.seed + 1, ids[i]) >= negative_p_) continue;
        x.insert(x.end(), v + i * source_.dim, v + (i + 1) * source_.dim);
        label.push_back(pos);
      }
    });
    LinearClassifier clf = train_classifier(comm, x, label, source_.dim, o_.classifier);
    std::vector<float>().swap(x);
    log::info("passage classifier: balanced training accuracy ", clf.accuracy);

    std::vector<float> scores;
    std::vector<int64_t> rows;  // the passage row of each score
    for_each_local_block([&](const float* v, const int64_t* ids, int64_t n, size_t) {
      for (int64_t i = 0; i < n; ++i) scores.push_back(clf.score(v + i * source_.dim));
      rows.insert(rows.end(), ids, ids + n);
    });
    const int64_t total = dist::all_reduce_sum(comm, static_cast<int64_t>(scores.size()));
    const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(o_.keep_fraction * total + 0.5));
    float threshold = 0;
    std::vector<uint8_t> kept = select_best(comm, scores, keep, &threshold);
    write_kept(comm, kept, rows, keep);
    if (comm.rank() == 0) write_report(clf, total, keep, threshold);
    comm.barrier();
    log::info("kept ", keep, " of ", total, " passages (score >= ", threshold, ") in ", manifest_path);
  }

 private:
  using BlockFn = std::function<void(const float*, const int64_t*, int64_t, size_t)>;
  // This rank's rows in order: fn(vectors (n, dim), passage rows (n), n, local shard).
  void for_each_local_block(const BlockFn& fn) const {
    std::vector<float> v;
    std::vector<int64_t> ids;
    for (size_t s = 0; s < local_.positions.size(); ++s) {
      sharding::EmbeddingShardReader reader(
          source_.shard_path(source_.shards[static_cast<size_t>(local_.positions[s])]));
      for (int64_t b = 0; b < reader.rows(); b += o_.block) {
        const int64_t n = std::min(o_.block, reader.rows() - b);
        v.resize(static_cast<size_t>(n * reader.dim()));
        ids.resize(static_cast<size_t>(n));
        reader.read_vectors(b, n, v.data());
        reader.read_ids(b, n, ids.data());
        fn(v.data(), ids.data(), n, s);
      }
    }
  }

  // Passage rows of the first --n_context ctxs of every training question
  // (each rank reads a share of the questions; the union is all-gathered),
  // subsampled to --max_positives; sets the negative sampling rate.
  std::vector<int64_t> read_positives(dist::Communicator& comm, const data::PassageStore& store) {
    data::ReaderOptions ro;
    ro.shard_rank = comm.rank();
    ro.shard_world = comm.size();
    data::ExampleReader reader(o_.data, ro);
    data::Example ex;
    std::vector<int64_t> mine;
    while (reader.next(ex)) {
      for (size_t j = 0; j < ex.ctxs.size() && j < static_cast<size_t>(o_.top_k); ++j) {
        const int64_t row = store.row_of(ex.ctxs[j].id);
        FID_CHECK(row >= 0, "--data '", o_.data, "' question ", reader.index(), " has ctx id '",
                  ex.ctxs[j].id, "' which is not in --passages '", o_.passages, "'");
        mine.push_back(row);
      }
    }
    std::vector<int64_t> all;
    for (auto& part : dist::all_gather_vectors(comm, mine)) all.insert(all.end(), part.begin(), part.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    FID_CHECK(!all.empty(), "--data '", o_.data, "' has no ctxs: the positives of the classifier "
              "are the top ctxs of training questions (retrieve or bm25 output)");
    if (static_cast<int64_t>(all.size()) > o_.max_positives) {
      const double p = static_cast<double>(o_.max_positives) / static_cast<double>(all.size());
      all.erase(std::remove_if(all.begin(), all.end(),
                               [&](int64_t r) { return row_uniform(o_.seed, r) >= p; }),
                all.end());
    }
    const int64_t rows = source_.rows_listed();
    const double n_pos = static_cast<double>(all.size());
    negative_p_ = std::min(1.0, o_.negative_ratio * n_pos / std::max(1.0, static_cast<double>(rows) - n_pos));
    log::info("passage classifier: ", all.size(), " positive passages from '", o_.data,
              "', negatives sampled at rate ", negative_p_);
    return all;
  }

  // Each local shard becomes a shard of the kept rows, renumbered 0..keep-1
  // across all shards in shard order; ids keep the original passage rows.
  // `rows`: the passage row of each of this rank's rows, in local order.
  void write_kept(dist::Communicator& comm, const std::vector<uint8_t>& kept, const std::vector<int64_t>& rows,
                  int64_t keep) {
    std::vector<int64_t> counts(source_.shards.size(), 0);
    {
      size_t i = 0;
      for (size_t s = 0; s < local_.positions.size(); ++s) {
        for (int64_t r = 0; r < local_.ranges[s].size(); ++r) counts[static_cast<size_t>(local_.positions[s])] += kept[i++];
      }
    }
    comm.all_reduce_int64(counts, dist::ReduceOp::kSum);
    std::vector<sharding::RowRange> ranges;
    int64_t next = 0;
    for (int64_t c : counts) {
      ranges.push_back({next, next + c});
      next += c;
    }
    FID_CHECK(next == keep, "kept ", next, " rows, expected ", keep);
    // Kept sets of different runs get different fingerprints, so an index
    // saved for one filter run is never loaded for another.
    std::vector<int64_t> sum = {0};
    for (size_t i = 0; i < rows.size(); ++i) {
      if (kept[i]) sum[0] = (sum[0] + static_cast<int64_t>(row_uniform(o_.seed ^ 0x5bd1e995, rows[i]) * (1LL << 40))) % kPrime;
    }
    int64_t total_sum = 0;
    for (const auto& p : dist::all_gather_vectors(comm, sum)) total_sum = (total_sum + p[0]) % kPrime;
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(total_sum));
    const std::string fingerprint = source_.model_fingerprint + "/filtered-" +
                                    std::to_string(keep) + "-" + hex;

    if (comm.rank() == 0) make_directories(o_.output_dir);
    comm.barrier();
    std::vector<std::unique_ptr<sharding::EmbeddingShardWriter>> writers;
    std::vector<std::string> files;
    for (size_t s = 0; s < local_.positions.size(); ++s) {
      const auto& src = source_.shards[static_cast<size_t>(local_.positions[s])];
      sharding::ShardMeta meta;
      meta.dim = source_.dim;
      meta.dtype = source_.dtype;
      meta.model_fingerprint = fingerprint;
      meta.passages_fingerprint = source_.passages_fingerprint;
      meta.shard_index = src.index;
      meta.shard_count = source_.shard_count;
      meta.rows = ranges[static_cast<size_t>(local_.positions[s])];
      const std::string file = sharding::shard_file_name(join_path(o_.output_dir, "passages"), src.index);
      // A leftover of an interrupted run is rewritten, not resumed: the
      // kept set is recomputed anyway.
      if (path_exists(file + ".tmp")) std::remove((file + ".tmp").c_str());
      writers.push_back(std::make_unique<sharding::EmbeddingShardWriter>(file, meta));
      files.push_back(file);
    }
    size_t at = 0;
    std::vector<float> v;
    std::vector<int64_t> ids;
    for_each_local_block([&](const float* x, const int64_t* id, int64_t n, size_t s) {
      v.clear();
      ids.clear();
      for (int64_t i = 0; i < n; ++i, ++at) {
        if (!kept[at]) continue;
        v.insert(v.end(), x + i * source_.dim, x + (i + 1) * source_.dim);
        ids.push_back(id[i]);
      }
      writers[s]->append(ids.data(), v.data(), static_cast<int64_t>(ids.size()));
    });
    for (auto& w : writers) w->finish();

    // Rank 0 lists every rank's files once all are complete.
    sharding::write_manifest_collective(comm, join_path(o_.output_dir, "manifest.json"), files, keep,
                                        source_.passage_rows());
  }

  void write_report(const LinearClassifier& clf, int64_t total, int64_t keep, float threshold) const {
    nlohmann::json j = {{"format", kFilterFormat},
                        {"version", 1},
                        {"source", o_.embeddings},
                        {"data", o_.data},
                        {"keep_fraction", o_.keep_fraction},
                        {"passages_scored", total},
                        {"passages_kept", keep},
                        {"threshold", threshold},
                        {"train_balanced_loss", clf.loss},
                        {"train_balanced_accuracy", clf.accuracy},
                        {"bias", clf.b},
                        {"weights", clf.w}};
    write_json_atomic(join_path(o_.output_dir, "filter.json"), j);
  }

  static constexpr int64_t kPrime = 2305843009213693951LL;  // 2^61 - 1

  const FilterPassagesOptions& o_;
  sharding::Manifest source_;
  sharding::LocalShards local_;
  double negative_p_ = 0.0;
};

}  // namespace

void filter_passages(dist::Communicator& comm, const FilterPassagesOptions& options) {
  FilterJob(options).run(comm);
}

}  // namespace fid::retrieval
