#include "retrieval/embed_job.h"

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/stop_request.h"
#include "common/progress.h"
#include "common/system.h"
#include "data/passages.h"
#include "dist/agreement.h"
#include "dist/collectives.h"
#include "runtime/loaded_retriever.h"
#include "runtime/passage_embedder.h"
#include "model/bert_int8.h"
#include "runtime/placement.h"
#include "sharding/embedding_shard.h"
#include "sharding/local_index.h"
#include "sharding/manifest.h"
#include "sharding/shard_plan.h"

namespace fid::retrieval {
namespace {

sharding::EmbeddingDtype parse_dtype_flag(const std::string& dtype) {
  try {
    return sharding::parse_dtype(dtype);
  } catch (const Error&) {
    FID_THROW("--dtype '", dtype, "' is not a stored vector type: use float16 or float32");
  }
}

// A complete shard from an earlier run of the same job is kept; one from
// another run (other model, passages or plan) is an error, not overwritten.
void check_complete_shard(const std::string& file, const sharding::ShardMeta& meta) {
  sharding::EmbeddingShardReader reader(file);
  const std::string diff = sharding::meta_difference(meta, reader.meta(), true);
  FID_CHECK(diff.empty(), "embedding shard '", file, "' exists from another run (", diff,
            "); remove it, or choose another --output_path");
  log::info("embed-passages: '", file, "' is already complete; nothing to do for it");
}

runtime::EmbedStats embed_shard(const EmbedJobOptions& o, const data::PassageStore& store,
                                runtime::LoadedRetriever& retriever, const std::string& file,
                                const sharding::ShardMeta& meta) {
  sharding::WriterOptions wopts;
  wopts.fletcher32 = o.fletcher32;
  // The pipeline appends a window at a time: chunks of a window's rows.
  const int64_t elem = meta.dtype == sharding::EmbeddingDtype::kFloat16 ? 2 : 4;
  wopts.chunk_rows =
      sharding::shard_chunk_rows(o.pipeline.batch_size * o.pipeline.window_batches, meta.dim * elem);
  sharding::EmbeddingShardWriter writer(file, meta, wopts);
  runtime::PassageEmbedder embedder(retriever, o.pipeline);
  log::info("embed-passages: ",
            embedder.sorts_by_length()
                ? "batches sorted by length within windows of " + std::to_string(o.pipeline.window_batches) + " batches"
                : std::string("every passage padded to passage_maxlength (the model does not mask "
                              "passage padding, so padding changes the embedding)"));
  const int64_t begin = meta.rows.begin + writer.rows_done();
  Progress progress("embed-passages", meta.rows.end - begin, "passages");
  runtime::EmbedStats s = embedder.run(
      store, begin, meta.rows.end,
      [&](const int64_t* ids, const float* vectors, int64_t n) { writer.append(ids, vectors, n); },
      [&](int64_t n) {
        progress.add(n);
        log::debug("embed-passages: ", writer.rows_done(), " rows of '", writer.tmp_path(), "' durable");
        // A scheduler's notice: stop here, every row so far durable.
        if (stop_requested()) {
          throw Preempted(detail::concat("stopped on request (", stop_signal_name(), ") with ", writer.rows_done(),
                                         " of ", meta.rows.size(), " rows of '", writer.tmp_path(),
                                         "' written; run the same command to resume"));
        }
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
void write_manifest(dist::Communicator& comm, int shard_id, const std::string& prefix,
                    const sharding::WorkAssignment& work, int64_t total_rows) {
  comm.barrier();
  std::vector<std::string> mine = {sharding::shard_file_name(prefix, work.shard_index)};
  std::string missing;
  if (comm.rank() == 0) {
    const int first = shard_id * comm.size(), last = first + comm.size();
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

}  // namespace

void EmbedJobOptions::validate() const {
  FID_CHECK(precision == "auto" || precision == "fp32" || precision == "int8",
            "--precision must be auto, fp32 or int8, got '", precision, "'");
  FID_CHECK(pipeline.batch_size > 0, "--per_gpu_batch_size must be positive, got ", pipeline.batch_size);
  FID_CHECK(pipeline.tokenizer_threads > 0, "--tokenizer_threads must be positive");
  FID_CHECK(passage_maxlength == -1 || passage_maxlength > 0,
            "--passage_maxlength must be positive, got ", passage_maxlength);
  FID_CHECK(path_exists(passages), "--passages file '", passages,
            "' does not exist; give the passages TSV (id, text, title)");
  FID_CHECK(is_directory(model_path), "--model_path '", model_path,
            "' is not a directory; give a retriever directory (`fid init-model --arch retriever` "
            "creates one, train-retriever saves them)");
}

void run_embed_job(dist::Communicator& comm, EmbedJobOptions o) {
  const c10::Device device = runtime::parse_device(o.device, comm.local_rank());  // before any work
  o.validate();
  // SIGTERM / SIGUSR1 (a scheduler's notice) stop each shard after its next
  // durable batch; the rerun resumes it.
  install_stop_handlers();
  const sharding::EmbeddingDtype dtype = parse_dtype_flag(o.dtype);
  warn_if_reference_blas();

  data::PassageStore store(o.passages);
  const sharding::WorkAssignment work =
      sharding::assign_work(store.size(), o.shard_id, o.num_shards, comm.rank(), comm.size());
  const std::string prefix = sharding::shard_prefix(o.output);
  make_directories(parent_path(prefix));
  // One job per output (per element of an array job, which share it): a
  // second one would resume the first one's unfinished shards under it.
  const auto lock = dist::take_run_lock(comm, parent_path(prefix), "--output_path",
                                        o.num_shards > 1 ? "element" + std::to_string(o.shard_id) : "");
  const std::string file = sharding::shard_file_name(prefix, work.shard_index);

  runtime::LoadedRetriever retriever(o.model_path);
  auto& config = retriever.model()->mutable_config();
  if (o.passage_maxlength > 0) config.passage_maxlength = o.passage_maxlength;
  FID_CHECK(config.passage_maxlength <= config.bert.max_position_embeddings, "--passage_maxlength ",
            config.passage_maxlength, " exceeds the model's max_position_embeddings (",
            config.bert.max_position_embeddings, " in '", o.model_path, "/config.json')");
  runtime::Placement placement = runtime::choose_placement(!o.no_fp16 && o.precision == "auto", device);
  if (o.precision == "int8") {
    FID_CHECK(device.is_cpu(), "--precision int8 runs on the CPU; give --device cpu (on a GPU use the default "
              "float16, or --precision fp32)");
    placement.dtype = at::kFloat;
    placement.reason = "int8 products (dynamic quantization on " + model::int8_engine() +
                       "), float32 elsewhere (--precision int8)";
    o.pipeline.int8 = true;
  } else if (o.precision == "fp32") {
    placement.reason = "float32 (--precision fp32)";
  }
  o.pipeline.device = placement.device;
  o.pipeline.dtype = placement.dtype;

  sharding::ShardMeta meta;
  meta.dim = retriever.model()->config().output_dim();
  meta.dtype = dtype;
  meta.model_fingerprint = runtime::retriever_fingerprint(o.model_path);
  meta.passages_fingerprint = file_fingerprint(o.passages);
  meta.shard_index = work.shard_index;
  meta.shard_count = work.shard_count;
  meta.rows = work.rows;
  log::info("embed-passages: ", store.size(), " passages in ", work.shard_count,
            " shards; model ", placement.reason, "; vectors of ", meta.dim, " stored as ",
            sharding::dtype_name(dtype));

  // Every rank reaches the collectives below, whether it had work or not.
  runtime::EmbedStats stats;
  if (path_exists(file)) {
    check_complete_shard(file, meta);
  } else {
    stats = embed_shard(o, store, retriever, file, meta);
  }
  const int64_t rows = dist::all_reduce_sum(comm, stats.rows);
  log::info("embed-passages: ", rows, " passages embedded over all ranks");
  write_manifest(comm, o.shard_id, prefix, work, store.size());
}

}  // namespace fid::retrieval
