// `fid retrieve`: dense top-k retrieval over the embedding shards, one FAISS
// index part per rank (retrieval::run_retrieve_job).
#include "cli/command.h"
#include "retrieval/retrieve_job.h"

namespace fid::cli {
namespace {

class RetrieveCommand : public Command {
 public:
  std::string name() const override { return "retrieve"; }
  std::string description() const override {
    return "Dense top-k retrieval over FAISS shards (flat, PQ, IVF-PQ), one index part per rank";
  }
  void add_options(CLI::App& app) override {
    // Model and data.
    add_model_path(app, o_.model_path, "retriever (encodes the questions)")
        ->required();
    app.add_option(flag("passages"), o_.passages, "passages TSV (id, text, title)")->required();
    // --data_path, --passages_embeddings_path: the names of FiD's README.
    app.add_option(flag("data") + ",--data_path", o_.data, "questions (FiD JSON or JSONL)")->required();
    app.add_option(flag("passages_embeddings") + ",--passages_embeddings_path", o_.embeddings,
                   "manifest.json of embed-passages or filter-passages, or a glob of .h5 shards")
        ->required();
    app.add_option(flag("output_path"), o_.output, "retrieval output (.json or .jsonl)")->required();
    app.add_option("--n-docs,--n_docs", o_.search.k, "passages per question")->capture_default_str();
    app.add_option(flag("per_gpu_batch_size"), o_.batch_size, "questions encoded at a time per rank")
        ->capture_default_str();
    app.add_option(flag("question_maxlength"), o_.question_maxlength,
                   "question tokens (default: the retriever's config)");
    add_device_option(app, o_.device);
    app.add_flag(flag("no_fp16"), o_.no_fp16,
                 "encode questions in float32 (default: float16 on a GPU, bfloat16 on a CPU with native "
                 "bf16, else float32, as embed-passages)");
    add_match_option(app, o_.match);
    app.add_option(flag("validation_workers"), o_.validation_workers,
                   "threads of rank 0 that check answers in the retrieved passages (0: all cores)")
        ->capture_default_str();
    // Index.
    app.add_option(flag("index_type"), o_.index_type,
                   "flat | pq | ivfpq (default: pq with --n-subquantizers > 0, else flat)");
    app.add_option("--n-subquantizers,--n_subquantizers", o_.params.pq_m,
                   "PQ subquantizers (bytes per vector with 8 bits); 0 = flat index")
        ->capture_default_str();
    app.add_option("--n-bits,--n_bits", o_.params.pq_nbits, "bits per subquantizer code")
        ->capture_default_str();
    app.add_flag("--opq", o_.params.opq, "learn an OPQ rotation before product quantization");
    app.add_option("--nlist", o_.params.nlist, "IVF cells (0: about 4 sqrt(passages), a power of 2)")
        ->capture_default_str();
    app.add_option("--nprobe", o_.params.nprobe, "IVF cells searched per query")->capture_default_str();
    app.add_option(flag("index_factory"), o_.params.factory,
                   "any FAISS index_factory string, inner product (\"HNSW32\", \"IVF4096,SQ8\", "
                   "\"OPQ16,IVF4096,PQ16\"); instead of --index_type");
    app.add_option("--efSearch,--ef_search", o_.params.ef_search,
                   "HNSW candidates kept while searching (default: FAISS's 16)");
    app.add_option(flag("indexing_batch_size"), o_.build.add_batch,
                   "vectors read from the shards and added to the index at a time")
        ->capture_default_str();
    app.add_option(flag("train_sample"), o_.build.train_sample,
                   "vectors (drawn from every rank's shards) that train the quantizer")
        ->capture_default_str();
    app.add_option("--seed", o_.build.seed, "training-sample seed")->capture_default_str();
    app.add_option("--rerank", o_.search.rerank,
                   "re-score this many candidates per rank with the exact inner product of the "
                   "float vectors in the shards (0: off)")
        ->capture_default_str();
    app.add_option(flag("save_or_load_index"), o_.save_or_load_index,
                   "directory of one index file per rank: loaded when it holds an index of these "
                   "shards, world size and parameters, else built and saved there (without a "
                   "value: next to the embeddings)")
        ->expected(0, 1)
        ->default_str(retrieval::kIndexNextToEmbeddings);
  }

  void run(dist::Communicator& comm) override { retrieval::run_retrieve_job(comm, o_); }

 private:
  retrieval::RetrieveJobOptions o_;
};

}  // namespace

FID_REGISTER_COMMAND(RetrieveCommand, "retrieve")

}  // namespace fid::cli
