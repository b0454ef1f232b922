// `fid filter-passages`: the passage filter of the memory-efficient paper.
// A linear classifier on passage embeddings learns which passages retrieval
// needs (positives: the top-k ctxs of training questions; negatives: a
// uniform sample of the others); every passage is scored on the rank that
// holds it, the best-scored fraction is kept, and the kept rows are written
// as new embedding shards plus a manifest that `fid retrieve` accepts. Their
// `ids` stay the rows of the original passages file, so retrieval output
// still reads the right passages.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "retrieval/dense_retrieval.h"
#include "retrieval/passage_filter.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/example_reader.h"
#include "data/passages.h"
#include "dist/collectives.h"
#include "sharding/embedding_shard.h"

namespace fid::cli {
namespace {

inline constexpr const char* kFilterFormat = "fid-passage-filter";

class FilterPassagesCommand : public Command {
 public:
  std::string name() const override { return "filter-passages"; }
  std::string description() const override {
    return "Keep the passages a linear classifier on their embeddings scores best";
  }
  void add_options(CLI::App& app) override {
    app.add_option(flag("passages"), passages_, "passages TSV the embeddings are of")->required();
    app.add_option(flag("passages_embeddings"), embeddings_,
                   "manifest.json or glob of the embedding shards to filter")->required();
    app.add_option(flag("data"), data_,
                   "training retrieval file (FiD JSON/JSONL with ctxs): its top ctxs are the positives")
        ->required();
    app.add_option(flag("output_dir"), output_dir_,
                   "new directory for the kept shards, manifest.json and filter.json")->required();
    app.add_option(flag("keep_fraction"), keep_fraction_, "fraction of the passages kept")
        ->capture_default_str();
    app.add_option(flag("n_context"), top_k_, "ctxs of each training question taken as positives")
        ->capture_default_str();
    app.add_option(flag("negative_ratio"), negative_ratio_,
                   "sampled negatives per positive")->capture_default_str();
    app.add_option(flag("max_positives"), max_positives_,
                   "positives used at most (a uniform sample beyond)")->capture_default_str();
    app.add_option(flag("steps"), classifier_.steps, "full-batch Adam steps")->capture_default_str();
    app.add_option(flag("lr"), classifier_.lr, "Adam learning rate")->capture_default_str();
    app.add_option(flag("weight_decay"), classifier_.weight_decay, "L2 penalty on the weights")
        ->capture_default_str();
    app.add_option(flag("indexing_batch_size"), block_, "rows read from the shards at a time")
        ->capture_default_str();
    app.add_option("--seed", seed_, "sampling seed")->capture_default_str();
  }

  void run(dist::Communicator& comm) override {
    FID_CHECK(keep_fraction_ > 0 && keep_fraction_ <= 1, "--keep_fraction must be in (0, 1], got ",
              keep_fraction_);
    FID_CHECK(top_k_ > 0 && negative_ratio_ > 0 && max_positives_ > 0 && block_ > 0,
              "--n_context, --negative_ratio, --max_positives and --indexing_batch_size must be "
              "positive");
    const std::string manifest_path = join_path(output_dir_, "manifest.json");
    FID_CHECK(!path_exists(manifest_path), "'", manifest_path, "' exists: filtered embeddings "
              "are already there; remove --output_dir or choose another");
    data::PassageStore store(passages_);
    source_ = retrieval::load_checked_embeddings(embeddings_, passages_, store.size());
    local_ = sharding::local_shards(source_, comm.rank(), comm.size());

    std::vector<int64_t> positives = read_positives(comm, store);
    std::vector<float> x;
    std::vector<uint8_t> label;
    for_each_local_block([&](const float* v, const int64_t* ids, int64_t n, size_t) {
      for (int64_t i = 0; i < n; ++i) {
        const bool pos = std::binary_search(positives.begin(), positives.end(), ids[i]);
        if (!pos && retrieval::row_uniform(seed_ + 1, ids[i]) >= negative_p_) continue;
        x.insert(x.end(), v + i * source_.dim, v + (i + 1) * source_.dim);
        label.push_back(pos);
      }
    });
    retrieval::LinearClassifier clf = retrieval::train_classifier(comm, x, label, source_.dim, classifier_);
    std::vector<float>().swap(x);
    log::info("passage classifier: balanced training accuracy ", clf.accuracy);

    std::vector<float> scores;
    std::vector<int64_t> rows;  // the passage row of each score
    for_each_local_block([&](const float* v, const int64_t* ids, int64_t n, size_t) {
      for (int64_t i = 0; i < n; ++i) scores.push_back(clf.score(v + i * source_.dim));
      rows.insert(rows.end(), ids, ids + n);
    });
    const int64_t total = dist::all_reduce_sum(comm, static_cast<int64_t>(scores.size()));
    const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(keep_fraction_ * total + 0.5));
    float threshold = 0;
    std::vector<uint8_t> kept = retrieval::select_best(comm, scores, keep, &threshold);
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
      for (int64_t b = 0; b < reader.rows(); b += block_) {
        const int64_t n = std::min(block_, reader.rows() - b);
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
    data::ExampleReader reader(data_, ro);
    data::Example ex;
    std::vector<int64_t> mine;
    while (reader.next(ex)) {
      for (size_t j = 0; j < ex.ctxs.size() && j < static_cast<size_t>(top_k_); ++j) {
        const int64_t row = store.row_of(ex.ctxs[j].id);
        FID_CHECK(row >= 0, "--data '", data_, "' question ", reader.index(), " has ctx id '",
                  ex.ctxs[j].id, "' which is not in --passages '", passages_, "'");
        mine.push_back(row);
      }
    }
    std::vector<int64_t> all;
    for (auto& part : dist::all_gather_vectors(comm, mine)) all.insert(all.end(), part.begin(), part.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    FID_CHECK(!all.empty(), "--data '", data_, "' has no ctxs: the positives of the classifier "
              "are the top ctxs of training questions (retrieve or bm25 output)");
    if (static_cast<int64_t>(all.size()) > max_positives_) {
      const double p = static_cast<double>(max_positives_) / static_cast<double>(all.size());
      all.erase(std::remove_if(all.begin(), all.end(),
                               [&](int64_t r) { return retrieval::row_uniform(seed_, r) >= p; }),
                all.end());
    }
    const int64_t rows = source_.rows_listed();
    const double n_pos = static_cast<double>(all.size());
    negative_p_ = std::min(1.0, negative_ratio_ * n_pos / std::max(1.0, static_cast<double>(rows) - n_pos));
    log::info("passage classifier: ", all.size(), " positive passages from '", data_,
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
      if (kept[i]) sum[0] = (sum[0] + static_cast<int64_t>(retrieval::row_uniform(seed_ ^ 0x5bd1e995, rows[i]) * (1LL << 40))) % kPrime;
    }
    int64_t total_sum = 0;
    for (const auto& p : dist::all_gather_vectors(comm, sum)) total_sum = (total_sum + p[0]) % kPrime;
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(total_sum));
    const std::string fingerprint = source_.model_fingerprint + "/filtered-" +
                                    std::to_string(keep) + "-" + hex;

    if (comm.rank() == 0) make_directories(output_dir_);
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
      const std::string file = sharding::shard_file_name(join_path(output_dir_, "passages"), src.index);
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
    sharding::write_manifest_collective(comm, join_path(output_dir_, "manifest.json"), files, keep,
                                        source_.passage_rows());
  }

  void write_report(const retrieval::LinearClassifier& clf, int64_t total, int64_t keep, float threshold) const {
    nlohmann::json j = {{"format", kFilterFormat},
                        {"version", 1},
                        {"source", embeddings_},
                        {"data", data_},
                        {"keep_fraction", keep_fraction_},
                        {"passages_scored", total},
                        {"passages_kept", keep},
                        {"threshold", threshold},
                        {"train_balanced_loss", clf.loss},
                        {"train_balanced_accuracy", clf.accuracy},
                        {"bias", clf.b},
                        {"weights", clf.w}};
    write_json_atomic(join_path(output_dir_, "filter.json"), j);
  }

  static constexpr int64_t kPrime = 2305843009213693951LL;  // 2^61 - 1

  std::string passages_, embeddings_, data_, output_dir_;
  double keep_fraction_ = 0.5;
  int top_k_ = 20;
  double negative_ratio_ = 1.0;
  int64_t max_positives_ = 200000;
  int64_t block_ = 50000;
  uint64_t seed_ = 1234;
  retrieval::ClassifierOptions classifier_;
  sharding::Manifest source_;
  sharding::LocalShards local_;
  double negative_p_ = 0.0;
};

}  // namespace

FID_REGISTER_COMMAND(FilterPassagesCommand, "filter-passages")

}  // namespace fid::cli
