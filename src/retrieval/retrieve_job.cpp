#include "retrieval/retrieve_job.h"

#include <chrono>
#include <cmath>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/passages.h"
#include "dist/communicator.h"
#include "retrieval/dense_retrieval.h"
#include "retrieval/retrieval_output.h"
#include "runtime/loaded_retriever.h"
#include "runtime/question_encoder.h"

namespace fid::retrieval {
namespace {

using Clock = std::chrono::steady_clock;

// The seed's rule (--n-subquantizers > 0 means PQ) unless --index_type says;
// IVF cells about 4 sqrt(passages), a power of 2, at most one per 39
// training vectors (FAISS's minimum).
void complete_index_params(RetrieveJobOptions& o, const sharding::Manifest& manifest) {
  index::IndexParams& p = o.params;
  p.dim = manifest.dim;
  if (!p.factory.empty()) {
    FID_CHECK(o.index_type.empty() || o.index_type == "factory", "--index_type ", o.index_type,
              " and --index_factory '", p.factory, "': give one of them");
    p.type = index::IndexType::kFactory;
    p.validate();
    return;
  }
  p.type = o.index_type.empty() ? (p.pq_m > 0 ? index::IndexType::kPQ : index::IndexType::kFlat)
                                : index::parse_index_type(o.index_type);
  if (p.type == index::IndexType::kFlat) {
    FID_CHECK(p.pq_m == 0, "--n-subquantizers ", p.pq_m,
              " with --index_type flat: give --index_type pq or ivfpq, or drop it");
  }
  const int64_t available = std::min(o.build.train_sample, manifest.rows_listed());
  if (p.type == index::IndexType::kIVFPQ && p.nlist == 0) {
    const double want = 4.0 * std::sqrt(static_cast<double>(manifest.rows_listed()));
    int nlist = 1;
    while (nlist * 2 <= want && nlist < 65536) nlist *= 2;
    while (nlist > 1 && nlist * 39 > available) nlist /= 2;
    p.nlist = nlist;
    log::info("--nlist ", nlist, " for ", manifest.rows_listed(), " passages");
  }
  p.validate();
  if (p.type != index::IndexType::kFlat) {
    FID_CHECK(available >= (int64_t{1} << p.pq_nbits), "--n-bits ", p.pq_nbits, " trains ",
              int64_t{1} << p.pq_nbits, " centroids per subquantizer but only ", available,
              " training vectors are available (passages, or --train_sample): lower --n-bits or "
              "raise --train_sample");
  }
}

std::string embeddings_dir(const sharding::Manifest& m) {
  if (!m.base_dir.empty()) return m.base_dir;
  if (!m.shards.empty()) return parent_path(m.shard_path(m.shards[0]));
  return ".";
}

// The retriever that encodes the questions must be the one that embedded
// the passages: its output size is checked, its fingerprint compared.
void check_same_model(dist::Communicator& comm, const RetrieveJobOptions& o,
                      runtime::LoadedRetriever& retriever, const sharding::Manifest& manifest) {
  const int64_t out_dim = retriever.model()->config().output_dim();
  FID_CHECK(out_dim == manifest.dim, "the retriever '", o.model_path, "' makes ", out_dim,
            "-dimensional vectors but --passages_embeddings '", o.embeddings, "' are ",
            manifest.dim, "-dimensional: embed the passages with this retriever ",
            "(fid embed-passages --model_path ", o.model_path, ")");
  // filter-passages appends to the fingerprint of the model it filtered.
  const std::string& fp = manifest.model_fingerprint;
  const std::string made_by = fp.substr(0, fp.find("/filtered-"));
  const std::string this_model = comm.rank() == 0 ? runtime::retriever_fingerprint(o.model_path) : made_by;
  if (made_by != this_model) {
    log::warn("--passages_embeddings were made by another model (", made_by, ") than --model_path '",
              o.model_path, "' (", this_model, "): questions and passages are compared in ",
              "different spaces unless the weights are the same");
  }
}

}  // namespace

void RetrieveJobOptions::validate() const {
  FID_CHECK(search.k > 0, "--n-docs must be positive, got ", search.k);
  FID_CHECK(batch_size > 0, "--per_gpu_batch_size must be positive, got ", batch_size);
  FID_CHECK(build.add_batch > 0, "--indexing_batch_size must be positive, got ", build.add_batch);
  FID_CHECK(build.train_sample > 0, "--train_sample must be positive, got ", build.train_sample);
  FID_CHECK(validation_workers >= 0, "--validation_workers must be >= 0");
  text::parse_answer_match(match, "--match");
  FID_CHECK(question_maxlength == -1 || question_maxlength > 0,
            "--question_maxlength must be positive, got ", question_maxlength);
}

void run_retrieve_job(dist::Communicator& comm, RetrieveJobOptions o) {
  const auto started = Clock::now();
  o.validate();
  // Before the index is built: a wrong --device fails at once.
  const runtime::Placement placement =
      runtime::choose_placement(!o.no_fp16, runtime::parse_device(o.device, comm.local_rank()));
  data::PassageStore store(o.passages);
  sharding::Manifest manifest = load_checked_embeddings(o.embeddings, o.passages, store.size());
  runtime::LoadedRetriever retriever(o.model_path);
  check_same_model(comm, o, retriever, manifest);
  if (o.question_maxlength > 0) retriever.model()->mutable_config().question_maxlength = o.question_maxlength;
  complete_index_params(o, manifest);
  if (!o.save_or_load_index.empty()) {
    o.build.save_or_load_dir = o.save_or_load_index == kIndexNextToEmbeddings
                                   ? join_path(embeddings_dir(manifest), "index")
                                   : o.save_or_load_index;
  }

  double setup_s = seconds_since(started);  // passages, embeddings' manifest, retriever, questions
  auto t0 = Clock::now();
  sharding::ShardedDenseIndex index(comm, std::move(manifest), o.params, o.build);
  const double index_s = seconds_since(t0);
  const sharding::ShardedIndexSize size = index.size(comm);
  log::info("index ", o.params.describe(), ": ", size.vectors, " passages on ", comm.size(),
            " rank(s), ", size.bytes_per_passage(), " bytes per passage (", index_s, " s)");

  t0 = Clock::now();
  std::vector<data::Example> questions = read_questions(o.data);
  setup_s += seconds_since(t0);
  t0 = Clock::now();
  std::vector<float> queries =
      runtime::encode_owned_questions(comm, retriever, questions, o.batch_size, placement);
  const double encode_s = seconds_since(t0);
  const int64_t mine = static_cast<int64_t>(queries.size()) / index.dim();

  comm.barrier();  // time the search alone, not the slowest encoder
  t0 = Clock::now();
  o.search.dealt_queries = true;  // encode_owned_questions dealt them i % W == rank
  sharding::TopK local = index.search(comm, queries.data(), mine, o.search);
  const double search_s = std::max(seconds_since(t0), 1e-9);
  // The slowest rank's own search; the rest of search_s is the all-gather and the merge.
  const double local_search_s =
      1e-6 * static_cast<double>(dist::all_reduce_max(comm, static_cast<int64_t>(1e6 * index.last_local_search_s())));
  const double nq = static_cast<double>(questions.size());
  log::info("searched ", questions.size(), " questions in ", search_s, " s (", nq / search_s,
            " queries/s)");
  t0 = Clock::now();
  sharding::TopK all = gather_topk(comm, local, static_cast<int64_t>(questions.size()));
  const double gather_s = seconds_since(t0);
  if (comm.rank() == 0) {
    RetrievalRun run{std::move(questions), std::move(all), started};
    write_retrieval(run, store, o.output,
                    {{"index_bytes_per_passage", size.bytes_per_passage()},
                     {"index_passages", static_cast<double>(size.vectors)},
                     {"index_build_s", index_s},
                     {"queries_per_s", nq / search_s},
                     {"search_s", search_s},
                     {"encode_questions_per_s", nq / std::max(encode_s, 1e-9)},
                     {"world_size", static_cast<double>(comm.size())},
                     {"stage_setup_s", setup_s},
                     {"stage_index_s", index_s},
                     {"stage_encode_s", encode_s},
                     {"stage_search_s", local_search_s},
                     {"stage_gather_merge_s", search_s - local_search_s + gather_s},
                     {"rerank", static_cast<double>(o.search.rerank)}},
                    o.validation_workers, text::parse_answer_match(o.match, "--match"));
  }
  comm.barrier();
}

}  // namespace fid::retrieval
