// `fid retrieve`: the seed's passage_retrieval.py across ranks. Each rank
// builds (or loads) a FAISS index over the embedding shards the shard plan
// gives it, the quantizer being trained once on a sample from every rank;
// rank r encodes questions i % W == r with the retriever; the queries are
// all-gathered, searched in every rank's index and merged into the global
// top-k; rank 0 writes the seed's retrieval file and the top-k accuracy.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "cli/command.h"
#include "retrieval/dense_retrieval.h"
#include "retrieval/retrieval_output.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/passages.h"
#include "dist/collectives.h"
#include "train/passage_embedder.h"
#include "train/retriever_io.h"

namespace fid::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultIndexDir = "<embeddings dir>/index";

class RetrieveCommand : public Command {
 public:
  std::string name() const override { return "retrieve"; }
  std::string description() const override {
    return "Dense top-k retrieval over FAISS shards (flat, PQ, IVF-PQ), one index part per rank";
  }
  void add_options(CLI::App& app) override {
    app.add_option(flag("model_path"), model_path_, "retriever directory (encodes the questions)")
        ->required();
    app.add_option(flag("passages"), passages_, "passages TSV (id, text, title)")->required();
    app.add_option(flag("data"), data_, "questions (FiD JSON or JSONL)")->required();
    app.add_option(flag("passages_embeddings"), embeddings_,
                   "manifest.json of embed-passages or filter-passages, or a glob of .h5 shards")
        ->required();
    app.add_option(flag("output_path"), output_, "retrieval output (.json or .jsonl)")->required();
    app.add_option("--n-docs,--n_docs", search_.k, "passages per question")->capture_default_str();
    app.add_option(flag("per_gpu_batch_size"), batch_size_, "questions encoded at a time per rank")
        ->capture_default_str();
    app.add_option(flag("question_maxlength"), question_maxlength_,
                   "question tokens (default: the retriever's config)");
    app.add_option(flag("indexing_batch_size"), build_.add_batch,
                   "vectors read from the shards and added to the index at a time")
        ->capture_default_str();
    app.add_option("--n-subquantizers,--n_subquantizers", params_.pq_m,
                   "PQ subquantizers (bytes per vector with 8 bits); 0 = flat index")
        ->capture_default_str();
    app.add_option("--n-bits,--n_bits", params_.pq_nbits, "bits per subquantizer code")
        ->capture_default_str();
    index_dir_opt_ = app.add_option(flag("save_or_load_index"), index_dir_,
                                    "directory of one index file per rank: loaded when it holds "
                                    "an index of these shards, world size and parameters, else "
                                    "built and saved there (without a value: next to the embeddings)")
                         ->expected(0, 1)
                         ->default_str(kDefaultIndexDir);
    app.add_option(flag("validation_workers"), validation_workers_,
                   "threads of rank 0 that check answers in the retrieved passages (0: all cores)")
        ->capture_default_str();
    app.add_flag(flag("no_fp16"), no_fp16_,
                 "encode questions in float32 (default: float16 on a GPU, bfloat16 on a CPU with native "
                 "bf16, else float32, as embed-passages)");
    app.add_option(flag("index_type"), index_type_,
                   "flat | pq | ivfpq (default: pq with --n-subquantizers > 0, else flat)");
    app.add_flag("--opq", params_.opq, "learn an OPQ rotation before product quantization");
    app.add_option("--nlist", params_.nlist, "IVF cells (0: about 4 sqrt(passages), a power of 2)")
        ->capture_default_str();
    app.add_option("--nprobe", params_.nprobe, "IVF cells searched per query")->capture_default_str();
    app.add_option(flag("train_sample"), build_.train_sample,
                   "vectors (drawn from every rank's shards) that train the quantizer")
        ->capture_default_str();
    app.add_option("--rerank", search_.rerank,
                   "re-score this many candidates per rank with the exact inner product of the "
                   "float vectors in the shards (0: off)")
        ->capture_default_str();
    app.add_option("--seed", build_.seed, "training-sample seed")->capture_default_str();
  }

  void run(dist::Communicator& comm) override {
    check_options();
    data::PassageStore store(passages_);
    sharding::Manifest manifest = retrieval::load_checked_embeddings(embeddings_, passages_, store.size());
    train::LoadedRetriever retriever(model_path_);
    const int64_t out_dim = retriever.model()->config().output_dim();
    FID_CHECK(out_dim == manifest.dim, "the retriever '", model_path_, "' makes ", out_dim,
              "-dimensional vectors but --passages_embeddings '", embeddings_, "' are ",
              manifest.dim, "-dimensional: embed the passages with this retriever ",
              "(fid embed-passages --model_path ", model_path_, ")");
    // filter-passages appends to the fingerprint of the model it filtered.
    const std::string made_by = manifest.model_fingerprint.substr(0, manifest.model_fingerprint.find("/filtered-"));
    const std::string this_model = comm.rank() == 0 ? train::retriever_fingerprint(model_path_) : made_by;
    if (made_by != this_model) {
      log::warn("--passages_embeddings were made by another model (", made_by, ") than --model_path '",
                model_path_, "' (", this_model, "): questions and ",
                "passages are compared in different spaces unless the weights are the same");
    }
    if (question_maxlength_ > 0) retriever.model()->mutable_config().question_maxlength = question_maxlength_;
    set_index_params(manifest);
    if (index_dir_opt_->count() > 0) {
      build_.save_or_load_dir = index_dir_ == kDefaultIndexDir
                                    ? join_path(embeddings_dir(manifest), "index")
                                    : index_dir_;
    }

    auto t0 = Clock::now();
    retrieval::ShardedDenseIndex index(comm, std::move(manifest), params_, build_);
    const double index_s = seconds_since(t0);
    const retrieval::ShardedIndexSize size = index.size(comm);
    log::info("index ", params_.describe(), ": ", size.vectors, " passages on ", comm.size(),
              " rank(s), ", size.bytes_per_passage(), " bytes per passage (", index_s, " s)");

    std::vector<data::Example> questions = retrieval::read_questions(data_);
    t0 = Clock::now();
    std::vector<float> queries = encode_mine(comm, retriever, questions);
    const double encode_s = seconds_since(t0);
    const int64_t mine = static_cast<int64_t>(queries.size()) / index.dim();

    comm.barrier();  // time the search alone, not the slowest encoder
    t0 = Clock::now();
    sharding::TopK local = index.search(comm, queries.data(), mine, search_);
    const double search_s = std::max(seconds_since(t0), 1e-9);
    const double nq = static_cast<double>(questions.size());
    log::info("searched ", questions.size(), " questions in ", search_s, " s (", nq / search_s,
              " queries/s)");
    sharding::TopK all = retrieval::gather_topk(comm, local, static_cast<int64_t>(questions.size()));
    if (comm.rank() == 0) {
      retrieval::RetrievalRun run{std::move(questions), std::move(all)};
      retrieval::write_retrieval(run, store, output_,
                      {{"index_bytes_per_passage", size.bytes_per_passage()},
                       {"index_passages", static_cast<double>(size.vectors)},
                       {"index_build_s", index_s},
                       {"queries_per_s", nq / search_s},
                       {"search_s", search_s},
                       {"encode_questions_per_s", nq / std::max(encode_s, 1e-9)},
                       {"world_size", static_cast<double>(comm.size())},
                       {"rerank", static_cast<double>(search_.rerank)}},
                      validation_workers_);
    }
    comm.barrier();
  }

 private:
  void check_options() const {
    FID_CHECK(search_.k > 0, "--n-docs must be positive, got ", search_.k);
    FID_CHECK(batch_size_ > 0, "--per_gpu_batch_size must be positive, got ", batch_size_);
    FID_CHECK(build_.add_batch > 0, "--indexing_batch_size must be positive, got ", build_.add_batch);
    FID_CHECK(build_.train_sample > 0, "--train_sample must be positive, got ", build_.train_sample);
    FID_CHECK(validation_workers_ >= 0, "--validation_workers must be >= 0");
    FID_CHECK(question_maxlength_ == -1 || question_maxlength_ > 0,
              "--question_maxlength must be positive, got ", question_maxlength_);
  }

  // The seed's rule (--n-subquantizers > 0 means PQ) unless --index_type says.
  void set_index_params(const sharding::Manifest& manifest) {
    params_.dim = manifest.dim;
    params_.type = index_type_.empty()
                       ? (params_.pq_m > 0 ? index::IndexType::kPQ : index::IndexType::kFlat)
                       : index::parse_index_type(index_type_);
    if (params_.type == index::IndexType::kFlat) {
      FID_CHECK(params_.pq_m == 0, "--n-subquantizers ", params_.pq_m,
                " with --index_type flat: give --index_type pq or ivfpq, or drop it");
    }
    if (params_.type == index::IndexType::kIVFPQ && params_.nlist == 0) {
      const double want = 4.0 * std::sqrt(static_cast<double>(manifest.rows_listed()));
      int nlist = 1;
      while (nlist * 2 <= want && nlist < 65536) nlist *= 2;
      // FAISS wants about 39 training vectors per cell.
      while (nlist > 1 && nlist * 39 > std::min(build_.train_sample, manifest.rows_listed())) nlist /= 2;
      params_.nlist = nlist;
      log::info("--nlist ", nlist, " for ", manifest.rows_listed(), " passages");
    }
    params_.validate();
    if (params_.type != index::IndexType::kFlat) {
      const int64_t available = std::min(build_.train_sample, manifest.rows_listed());
      FID_CHECK(available >= (int64_t{1} << params_.pq_nbits), "--n-bits ", params_.pq_nbits,
                " trains ", int64_t{1} << params_.pq_nbits, " centroids per subquantizer but only ",
                available, " training vectors are available (passages, or --train_sample): lower ",
                "--n-bits or raise --train_sample");
    }
  }

  std::string embeddings_dir(const sharding::Manifest& m) const {
    if (!m.base_dir.empty()) return m.base_dir;
    if (!m.shards.empty()) return parent_path(m.shard_path(m.shards[0]));
    return ".";
  }

  // This rank's questions (i % W == rank) as (n, D) float32 rows.
  std::vector<float> encode_mine(dist::Communicator& comm, train::LoadedRetriever& retriever,
                                 const std::vector<data::Example>& questions) const {
    std::vector<std::string> texts;
    for (size_t i = static_cast<size_t>(comm.rank()); i < questions.size();
         i += static_cast<size_t>(comm.size())) {
      texts.push_back(questions[i].question);
    }
    auto& model = retriever.model();
    model->eval();
    // The precision rule of embed-passages: float16 on a GPU, bfloat16 on a
    // CPU with native bf16, else float32; --no_fp16 keeps float32.
    const c10::Device device = train::pick_device(comm.local_rank());
    const train::Precision precision = train::choose_precision(!no_fp16_, device);
    model->to(device, precision.dtype);
    log::info("encoding questions: ", precision.reason);
    c10::InferenceMode guard;
    const int64_t d = model->config().output_dim();
    std::vector<float> out;
    out.reserve(texts.size() * static_cast<size_t>(d));
    for (size_t b = 0; b < texts.size(); b += static_cast<size_t>(batch_size_)) {
      const size_t e = std::min(texts.size(), b + static_cast<size_t>(batch_size_));
      std::vector<std::string> batch(texts.begin() + static_cast<std::ptrdiff_t>(b),
                                     texts.begin() + static_cast<std::ptrdiff_t>(e));
      train::RetrieverInputs in = retriever.encode_questions(batch);
      at::Tensor q = model->embed_questions(in.question_ids.to(device), in.question_mask.to(device))
                         .to(at::kCPU, at::kFloat)
                         .contiguous();  // (B, D)
      FID_CHECK(q.size(1) == d, "the retriever returned ", q.size(1), "-dimensional questions");
      out.insert(out.end(), q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
    }
    return out;
  }

  std::string model_path_, passages_, data_, embeddings_, output_, index_type_, index_dir_;
  CLI::Option* index_dir_opt_ = nullptr;
  int64_t batch_size_ = 64;
  int64_t question_maxlength_ = -1;
  int validation_workers_ = 0;
  bool no_fp16_ = false;
  index::IndexParams params_ = [] {
    index::IndexParams p;
    p.nprobe = 16;
    return p;
  }();
  sharding::BuildOptions build_ = [] {
    sharding::BuildOptions b;
    b.add_batch = 50000;
    return b;
  }();
  retrieval::DenseSearchOptions search_;
};

}  // namespace

FID_REGISTER_COMMAND(RetrieveCommand, "retrieve")

}  // namespace fid::cli
