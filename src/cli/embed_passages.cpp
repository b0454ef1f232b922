// `fid embed-passages`: embeds the passages with a retriever into HDF5
// shards, resumable, one per rank and array-job element
// (retrieval::run_embed_job).
#include "cli/command.h"
#include "retrieval/embed_job.h"

namespace fid::cli {
namespace {

class EmbedPassagesCommand : public Command {
 public:
  std::string name() const override { return "embed-passages"; }
  std::string description() const override {
    return "Embed passages with a retriever into HDF5 shards (one per rank and array-job element)";
  }
  void add_options(CLI::App& app) override {
    add_model_path(app, o_.model_path, "retriever")->required();
    app.add_option(flag("passages"), o_.passages, "passages TSV (id, text, title)")->required();
    app.add_option(flag("output_path"), o_.output,
                   "shard prefix (emb/passages -> emb/passages_00000.h5 ...) or an existing "
                   "directory; manifest.json is written beside the shards")->required();
    app.add_option(flag("shard_id"), o_.shard_id, "this array-job element")->capture_default_str();
    app.add_option(flag("num_shards"), o_.num_shards, "array-job elements")->capture_default_str();
    app.add_option(flag("per_gpu_batch_size"), o_.pipeline.batch_size, "passages per forward")
        ->capture_default_str();
    app.add_option(flag("passage_maxlength"), o_.passage_maxlength,
                   "longest passage in tokens (default: the model's config)");
    app.add_flag(flag("no_fp16"), o_.no_fp16,
                 "run the model in float32 (default: float16 on GPU, bfloat16 on a CPU with "
                 "native bf16, else float32)");
    add_device_option(app, o_.device);
    app.add_option(flag("precision"), o_.precision,
                   "auto (the --no_fp16 rule), fp32, or int8: linear layers in int8, dynamically "
                   "quantized (CPU; about 2x faster, embeddings within ~1% of float32's)")
        ->check(CLI::IsMember({"auto", "fp32", "int8"}))->capture_default_str();
    app.add_option(flag("dtype"), o_.dtype, "stored vectors: float16 or float32")
        ->capture_default_str();
    app.add_flag(flag("fletcher32"), o_.fletcher32, "per-chunk checksums in the shard");
    app.add_option(flag("tokenizer_threads"), o_.pipeline.tokenizer_threads,
                   "tokenizing threads per rank")->capture_default_str();
    app.add_option(flag("window_batches"), o_.pipeline.window_batches,
                   "batches sorted by length together (when the model masks passage padding)")
        ->capture_default_str();
  }

  void run(dist::Communicator& comm) override { retrieval::run_embed_job(comm, o_); }

 private:
  retrieval::EmbedJobOptions o_;
};

}  // namespace

FID_REGISTER_COMMAND(EmbedPassagesCommand, "embed-passages")

}  // namespace fid::cli
