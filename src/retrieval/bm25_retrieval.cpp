#include "retrieval/bm25_retrieval.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/round_robin.h"
#include "common/files.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/system.h"
#include "data/passages.h"
#include "dist/collectives.h"
#include "retrieval/retrieval_output.h"
#include "sharding/shard_plan.h"
#include "text/word_terms.h"

namespace fid::retrieval {
namespace {

// This rank's index over its rows: loaded from --index_dir when it was built
// for the same passages file and shard, else built (and saved there).
index::Bm25Index build_or_load(dist::Communicator& comm, const data::PassageStore& store,
                               const sharding::RowRange& rows, const Bm25RetrievalOptions& o) {
  const nlohmann::json meta_json = {{"passages", file_fingerprint(o.passages)},
                                    {"rows", {rows.begin, rows.end}}, {"world", comm.size()}};
  const std::string meta = meta_json.dump();
  const std::string file = o.index_dir.empty() ? "" :
      join_path(o.index_dir, "bm25_rank" + std::to_string(comm.rank()) + "_of_" +
                                std::to_string(comm.size()) + ".bin");
  if (!file.empty() && path_exists(file)) {
    std::string saved;
    index::Bm25Index idx = index::Bm25Index::load(file, &saved);
    FID_CHECK(saved == meta, "BM25 index '", file, "' was built for other passages or shards (",
              saved, " vs ", meta, "): remove --index_dir's files to rebuild");
    log::info("bm25: loaded ", file);
    return idx;
  }
  index::Bm25Index idx;
  data::PassageReader reader(store, rows.begin, rows.end);
  data::Passage p;
  std::vector<std::string> terms;
  Progress progress("bm25 indexing", rows.size(), "passages");
  while (reader.next(p)) {
    terms.clear();
    text::word_terms(p.title, terms);
    text::word_terms(p.text, terms);
    idx.add(reader.row(), terms);
    progress.add(1);
  }
  progress.finish();
  idx.finalize();
  log::info("bm25: ", dist::all_reduce_sum(comm, idx.num_docs()), " passages indexed; peak RSS ",
            peak_rss_bytes() >> 20, " MiB on rank ", comm.rank());
  if (!file.empty()) {
    make_directories(o.index_dir);
    idx.save(file, meta);
  }
  return idx;
}

}  // namespace

void bm25_retrieve(dist::Communicator& comm, const Bm25RetrievalOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  FID_CHECK(o.k > 0, "--n-docs must be positive");
  data::PassageStore store(o.passages);
  const int rank = comm.rank(), world = comm.size();
  sharding::ShardPlan plan(store.size(), world);
  const sharding::RowRange rows = plan.shard_range(rank);
  index::Bm25Index idx = build_or_load(comm, store, rows, o);

  // Every rank reads every question: df is summed over ranks for the
  // union of query terms, which every rank then knows.
  std::vector<data::Example> questions = read_questions(o.data);
  std::vector<std::vector<std::string>> qterms(questions.size());
  std::vector<std::string> vocab;
  for (size_t i = 0; i < questions.size(); ++i) {
    text::word_terms(questions[i].question, qterms[i]);
    vocab.insert(vocab.end(), qterms[i].begin(), qterms[i].end());
  }
  std::sort(vocab.begin(), vocab.end());
  vocab.erase(std::unique(vocab.begin(), vocab.end()), vocab.end());
  std::vector<int64_t> df = idx.document_frequencies(vocab);
  comm.all_reduce_int64(df, dist::ReduceOp::kSum);
  index::Bm25Stats stats;
  stats.num_docs = dist::all_reduce_sum(comm, idx.num_docs());
  stats.avg_doc_length = static_cast<double>(dist::all_reduce_sum(comm, idx.total_length())) /
                         static_cast<double>(std::max<int64_t>(1, stats.num_docs));
  for (size_t t = 0; t < vocab.size(); ++t) stats.df[vocab[t]] = df[t];

  // This rank's questions (round_robin.h); queries travel as indices.
  std::vector<std::string> mine;
  for (int64_t i : owned_items(static_cast<int64_t>(questions.size()), rank, world)) {
    mine.push_back(std::to_string(i));
  }
  const auto t0 = std::chrono::steady_clock::now();
  sharding::TopK local = sharding::distributed_search(
      comm, sharding::encode_strings(mine), static_cast<int64_t>(mine.size()), o.k,
      [&](const std::string& bytes, int64_t nq, int k, float* scores, int64_t* ids) {
        auto which = sharding::decode_strings(bytes);
        for (int64_t q = 0; q < nq; ++q) {
          auto hits = idx.search(qterms[std::stoul(which[static_cast<size_t>(q)])], stats, o.params, k);
          for (int j = 0; j < k; ++j) {
            const bool have = j < static_cast<int>(hits.size());
            scores[q * k + j] = have ? static_cast<float>(hits[static_cast<size_t>(j)].score) : 0.0f;
            ids[q * k + j] = have ? hits[static_cast<size_t>(j)].id : -1;
          }
        }
      });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("bm25: searched ", questions.size(), " questions in ", secs, " s (",
            static_cast<double>(questions.size()) / secs, " queries/s)");
  sharding::TopK all = gather_topk(comm, local, static_cast<int64_t>(questions.size()));
  if (rank == 0) {
    RetrievalRun run{std::move(questions), std::move(all), started};
    write_retrieval(run, store, o.output, {{"queries_per_s", static_cast<double>(run.questions.size()) / secs}}, 0,
                    text::parse_answer_match(o.match, "--match"));
  }
  comm.barrier();
}

}  // namespace fid::retrieval
