// `fid embed-passages`: the seed's generate_passage_embeddings.py. Each
// process writes one HDF5 shard of the shard plan: under mpirun every rank
// is a shard, with --shard_id/--num_shards every array-job element is a block
// of shards, and both combine. A shard is written as <name>.tmp with a record
// of the rows done, so a rerun resumes where an interrupted run stopped, and
// is renamed when complete; rank 0 then lists the shards in manifest.json.
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/system.h"
#include "data/passages.h"
#include "dist/collectives.h"
#include "sharding/embedding_shard.h"
#include "sharding/local_index.h"
#include "sharding/shard_plan.h"
#include "train/passage_embedder.h"
#include "train/retriever_io.h"

namespace fid::cli {
namespace {

// "dim 32 vs 16, ..." between what this run would write and a complete shard.
std::string meta_mismatch(const sharding::ShardMeta& want, const sharding::ShardMeta& got) {
  std::string d;
  auto add = [&d](const char* field, const std::string& a, const std::string& b) {
    if (a != b) d += (d.empty() ? "" : ", ") + std::string(field) + " " + a + " (this run) vs " + b + " (file)";
  };
  add("dim", std::to_string(want.dim), std::to_string(got.dim));
  add("dtype", sharding::dtype_name(want.dtype), sharding::dtype_name(got.dtype));
  add("model fingerprint", want.model_fingerprint, got.model_fingerprint);
  add("passages fingerprint", want.passages_fingerprint, got.passages_fingerprint);
  add("shard index", std::to_string(want.shard_index), std::to_string(got.shard_index));
  add("shard count", std::to_string(want.shard_count), std::to_string(got.shard_count));
  add("row range", sharding::to_string(want.rows), sharding::to_string(got.rows));
  return d;
}

class EmbedPassagesCommand : public Command {
 public:
  std::string name() const override { return "embed-passages"; }
  std::string description() const override {
    return "Embed passages with a retriever into HDF5 shards (one per rank and array-job element)";
  }
  void add_options(CLI::App& app) override {
    app.add_option(flag("model_path"), model_path_, "retriever directory")->required();
    app.add_option(flag("passages"), passages_, "passages TSV (id, text, title)")->required();
    app.add_option(flag("output_path"), output_,
                   "shard prefix (emb/passages -> emb/passages_00000.h5 ...) or an existing "
                   "directory; manifest.json is written beside the shards")->required();
    app.add_option(flag("shard_id"), shard_id_, "this array-job element")->capture_default_str();
    app.add_option(flag("num_shards"), num_shards_, "array-job elements")->capture_default_str();
    app.add_option(flag("per_gpu_batch_size"), options_.batch_size, "passages per forward")
        ->capture_default_str();
    app.add_option(flag("passage_maxlength"), passage_maxlength_,
                   "longest passage in tokens (default: the model's config)");
    app.add_flag(flag("no_fp16"), no_fp16_,
                 "run the model in float32 (default: float16 on GPU, bfloat16 on a CPU with "
                 "native bf16, else float32)");
    app.add_option(flag("dtype"), dtype_, "stored vectors: float16 or float32")
        ->capture_default_str();
    app.add_flag(flag("fletcher32"), fletcher32_, "per-chunk checksums in the shard");
    app.add_option(flag("tokenizer_threads"), options_.tokenizer_threads,
                   "tokenizing threads per rank")->capture_default_str();
    app.add_option(flag("window_batches"), options_.window_batches,
                   "batches sorted by length together (when the model masks passage padding)")
        ->capture_default_str();
  }

  void run(dist::Communicator& comm) override {
    FID_CHECK(options_.batch_size > 0, "--per_gpu_batch_size must be positive, got ", options_.batch_size);
    FID_CHECK(options_.tokenizer_threads > 0, "--tokenizer_threads must be positive");
    FID_CHECK(path_exists(passages_), "--passages file '", passages_,
              "' does not exist; give the passages TSV (id, text, title)");
    FID_CHECK(is_directory(model_path_), "--model_path '", model_path_,
              "' is not a directory; give a retriever directory (`fid init-model --arch retriever` "
              "creates one, train-retriever saves them)");
    const sharding::EmbeddingDtype dtype = parse_dtype_flag();
    warn_if_reference_blas();

    data::PassageStore store(passages_);
    const sharding::WorkAssignment work =
        sharding::assign_work(store.size(), shard_id_, num_shards_, comm.rank(), comm.size());
    const std::string prefix = shard_prefix();
    make_directories(parent_path(prefix));
    const std::string file = sharding::shard_file_name(prefix, work.shard_index);

    train::LoadedRetriever retriever(model_path_);
    FID_CHECK(passage_maxlength_ == -1 || passage_maxlength_ > 0,
              "--passage_maxlength must be positive, got ", passage_maxlength_);
    auto& config = retriever.model()->mutable_config();
    if (passage_maxlength_ > 0) config.passage_maxlength = passage_maxlength_;
    FID_CHECK(config.passage_maxlength <= config.bert.max_position_embeddings, "--passage_maxlength ",
              config.passage_maxlength, " exceeds the model's max_position_embeddings (",
              config.bert.max_position_embeddings, " in '", model_path_, "/config.json')");
    options_.device = train::pick_device(comm.local_rank());
    const train::Precision precision = train::choose_precision(!no_fp16_, options_.device);
    options_.dtype = precision.dtype;

    sharding::ShardMeta meta;
    meta.dim = retriever.model()->config().output_dim();
    meta.dtype = dtype;
    meta.model_fingerprint = train::retriever_fingerprint(model_path_);
    meta.passages_fingerprint = file_fingerprint(passages_);
    meta.shard_index = work.shard_index;
    meta.shard_count = work.shard_count;
    meta.rows = work.rows;
    log::info("embed-passages: ", store.size(), " passages in ", work.shard_count,
              " shards; model ", precision.reason, "; vectors of ", meta.dim, " stored as ",
              sharding::dtype_name(dtype));

    // Every rank reaches the collectives below, whether it had work or not.
    train::EmbedStats stats;
    if (path_exists(file)) {
      check_complete_shard(file, meta);
    } else {
      stats = embed_shard(store, retriever, file, meta);
    }
    const int64_t rows = dist::all_reduce_sum(comm, stats.rows);
    log::info("embed-passages: ", rows, " passages embedded over all ranks");
    write_manifest(comm, prefix, work, store.size());
  }

 private:
  sharding::EmbeddingDtype parse_dtype_flag() const {
    try {
      return sharding::parse_dtype(dtype_);
    } catch (const Error&) {
      FID_THROW("--dtype '", dtype_, "' is not a stored vector type: use float16 or float32");
    }
  }

  // A directory (existing, or written with a trailing '/') gets "passages".
  std::string shard_prefix() const {
    if (is_directory(output_) || (!output_.empty() && output_.back() == '/')) {
      return join_path(output_, "passages");
    }
    return output_;
  }

  // A complete shard from an earlier run of the same job is kept; one from
  // another run (other model, passages or plan) is an error, not overwritten.
  void check_complete_shard(const std::string& file, const sharding::ShardMeta& meta) {
    sharding::EmbeddingShardReader reader(file);
    const std::string diff = meta_mismatch(meta, reader.meta());
    FID_CHECK(diff.empty(), "embedding shard '", file, "' exists from another run (", diff,
              "); remove it, or choose another --output_path");
    log::info("embed-passages: '", file, "' is already complete; nothing to do for it");
  }

  train::EmbedStats embed_shard(const data::PassageStore& store, train::LoadedRetriever& retriever,
                                const std::string& file, const sharding::ShardMeta& meta) {
    sharding::WriterOptions wopts;
    wopts.fletcher32 = fletcher32_;
    // The pipeline appends a window at a time: chunks of a window's rows.
    const int64_t elem = meta.dtype == sharding::EmbeddingDtype::kFloat16 ? 2 : 4;
    wopts.chunk_rows = train::shard_chunk_rows(options_.batch_size * options_.window_batches, meta.dim * elem);
    sharding::EmbeddingShardWriter writer(file, meta, wopts);
    train::PassageEmbedder embedder(retriever, options_);
    log::info("embed-passages: ",
              embedder.sorts_by_length()
                  ? "batches sorted by length within windows of " + std::to_string(options_.window_batches) + " batches"
                  : std::string("every passage padded to passage_maxlength (the model does not mask "
                                "passage padding, so padding changes the embedding)"));
    const int64_t begin = meta.rows.begin + writer.rows_done();
    Progress progress("embed-passages", meta.rows.end - begin, "passages");
    train::EmbedStats s = embedder.run(
        store, begin, meta.rows.end,
        [&](const int64_t* ids, const float* vectors, int64_t n) { writer.append(ids, vectors, n); },
        [&](int64_t n) {
          progress.add(n);
          log::debug("embed-passages: ", writer.rows_done(), " rows of '", writer.tmp_path(), "' durable");
        });
    writer.finish();
    progress.finish();
    log::info("embed-passages: wrote '", file, "': ", s.rows, " passages in ", s.wall_s, " s (",
              s.rows_per_s(), " passages/s; reading ", s.read_s, " s, tokenizing ", s.tokenize_s,
              " s, model ", s.model_s, " s (waited ", s.model_wait_s, " s for text), writing ",
              s.write_s, " s; ", s.padded_tokens, " tokens run for ", s.tokens, " real)");
    return s;
  }

  // Once every shard of this job is complete, rank 0 lists them. With
  // --num_shards > 1 the element that completes the last shard of the plan
  // writes it (each renames its shards before looking, so the last one sees all).
  void write_manifest(dist::Communicator& comm, const std::string& prefix,
                      const sharding::WorkAssignment& work, int64_t total_rows) {
    comm.barrier();
    std::vector<std::string> mine = {sharding::shard_file_name(prefix, work.shard_index)};
    std::string missing;
    if (comm.rank() == 0) {
      const int first = shard_id_ * comm.size(), last = first + comm.size();
      for (int i = 0; i < work.shard_count; ++i) {
        if (i >= first && i < last) continue;
        const std::string f = sharding::shard_file_name(prefix, i);
        if (path_exists(f)) {
          mine.push_back(f);
        } else {
          missing += (missing.empty() ? "" : ", ") + f;
        }
      }
    }
    comm.broadcast_bytes(missing, 0);
    const std::string manifest = join_path(parent_path(prefix), "manifest.json");
    if (!missing.empty()) {
      log::info("embed-passages: shards of other --shard_id elements are not complete yet (",
                missing, "); the element that completes the last one writes '", manifest, "'");
      return;
    }
    sharding::write_manifest_collective(comm, manifest, mine, total_rows);
    log::info("embed-passages: wrote '", manifest, "' listing ", work.shard_count, " shards");
  }

  std::string model_path_, passages_, output_;
  int shard_id_ = 0, num_shards_ = 1;
  int64_t passage_maxlength_ = -1;
  bool no_fp16_ = false, fletcher32_ = false;
  std::string dtype_ = "float16";
  train::EmbedOptions options_;
};

}  // namespace

FID_REGISTER_COMMAND(EmbedPassagesCommand, "embed-passages")

}  // namespace fid::cli
