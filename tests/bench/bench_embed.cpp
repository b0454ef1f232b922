// `fid embed-passages` end to end in one process: passages/s of the whole
// pipeline (TSV -> tokenizers -> retriever -> HDF5 shard) for a small and a
// BERT-base-sized retriever, with the time of each stage; then the shard
// writer's MB/s as a ratio to a plain sequential write (fwrite + fsync) of the
// same bytes, measured in the same run (goal: at least 0.8).
// Run: build/bench/bench_embed [small_passages=2000] [base_passages=48] [batch=32] [threads=0: all cores]
//      build/bench/bench_embed write [rows_per_append=512]   (the write comparison only)
// Weights are random (HF init): throughput does not depend on them.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/progress.h"
#include "data/passages.h"
#include "dist/world.h"
#include "model/retriever.h"
#include "model/retriever_io.h"
#include "sharding/embedding_shard.h"
#include "runtime/passage_embedder.h"
#include "runtime/placement.h"
#include "model/autocast.h"
#include "runtime/loaded_retriever.h"

namespace {
using Clock = std::chrono::steady_clock;

std::string temp_dir() {
  std::string pattern = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/fid-bench-embed-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) std::abort();
  return buf.data();
}

// n passages of 20..170 words drawn from the fixture vocabulary (whole words:
// about one WordPiece token each), so lengths vary as Wikipedia's do.
void write_passages(const std::string& path, const std::string& vocab_file, int64_t n) {
  std::vector<std::string> words;
  for (size_t b = 0, e; b < vocab_file.size(); b = e + 1) {
    e = vocab_file.find('\n', b);
    if (e == std::string::npos) e = vocab_file.size();
    std::string w = vocab_file.substr(b, e - b);
    if (!w.empty() && w[0] != '[' && w.rfind("##", 0) != 0) words.push_back(w);
  }
  std::mt19937 rng(7);
  fid::data::PassageWriter out(path);
  for (int64_t i = 0; i < n; ++i) {
    fid::data::Passage p;
    p.id = std::to_string(i + 1);
    p.title = words[rng() % words.size()];
    const int len = 20 + static_cast<int>(rng() % 151);
    for (int k = 0; k < len; ++k) p.text += (k ? " " : "") + words[rng() % words.size()];
    out.write(p);
  }
  out.close();
}

void make_retriever(const std::string& dir, int64_t hidden, int64_t layers, int64_t heads,
                    int64_t ffn, int64_t dim, const std::string& vocab_dir) {
  fid::model::RetrieverConfig c;
  c.bert.vocab_size = 459;  // the fixture vocabulary
  c.bert.hidden_size = hidden;
  c.bert.num_hidden_layers = layers;
  c.bert.num_attention_heads = heads;
  c.bert.intermediate_size = ffn;
  c.indexing_dimension = dim;
  c.apply_passage_mask = true;
  c.passage_maxlength = 200;
  fid::model::Retriever r(c);
  fid::model::init_retriever_weights(*r, 1);
  fid::model::save_retriever(*r, dir, vocab_dir);
}

void bench_pipeline(const char* name, const std::string& model_dir, const std::string& tsv,
                    int64_t batch, const std::string& out_dir) {
  fid::runtime::LoadedRetriever retriever(model_dir);
  fid::data::PassageStore store(tsv);
  fid::runtime::EmbedOptions o;
  o.batch_size = batch;
  // FID_BENCH_PRECISION=fp32|int8 picks what embed-passages' --precision
  // would; unset, the default rule (bf16 where the CPU has native bf16).
  const std::string asked = std::getenv("FID_BENCH_PRECISION") ? std::getenv("FID_BENCH_PRECISION") : "auto";
  const fid::runtime::Placement precision = fid::runtime::choose_placement(asked == "auto", o.device);
  o.dtype = precision.dtype;
  o.int8 = asked == "int8";
  fid::runtime::PassageEmbedder embedder(retriever, o);
  fid::sharding::ShardMeta meta;
  meta.dim = embedder.dim();
  meta.model_fingerprint = fid::runtime::retriever_fingerprint(model_dir);
  meta.passages_fingerprint = fid::file_fingerprint(tsv);
  meta.rows = {0, store.size()};
  const std::string file = fid::join_path(out_dir, std::string(name) + ".h5");
  const auto t0 = Clock::now();
  fid::sharding::WriterOptions wo;
  wo.chunk_rows = fid::sharding::shard_chunk_rows(o.batch_size * o.window_batches, meta.dim * 2);
  fid::sharding::EmbeddingShardWriter writer(file, meta, wo);
  fid::runtime::EmbedStats s = embedder.run(store, 0, store.size(),
      [&](const int64_t* ids, const float* v, int64_t n) { writer.append(ids, v, n); });
  writer.finish();
  const double wall = fid::seconds_since(t0);
  std::printf("%-8s %6lld passages  %8.1f passages/s  (model in %s)\n", name,
              static_cast<long long>(s.rows), static_cast<double>(s.rows) / wall,
              o.int8 ? "int8" : c10::toString(o.dtype));
  std::printf("         stage seconds: read %.3f  tokenize %.3f  model %.3f  write %.3f  "
              "(model waited %.3f for text; wall %.3f)\n",
              s.read_s, s.tokenize_s, s.model_s, s.write_s, s.model_wait_s, wall);
  std::printf("         shares of wall: tokenize %.1f%%  model %.1f%%  write %.1f%%; "
              "tokens run %lld for %lld real (%.1f%% padding)\n",
              100 * s.tokenize_s / wall, 100 * s.model_s / wall, 100 * s.write_s / wall,
              static_cast<long long>(s.padded_tokens), static_cast<long long>(s.tokens),
              100.0 * static_cast<double>(s.padded_tokens - s.tokens) / static_cast<double>(s.padded_tokens));
}

// The shard writer against fwrite + fsync of the same bytes, in the same
// pieces (one append per window of the pipeline). Each is run five times,
// interleaved, and the best of each is kept: the machine's other load and the
// page cache's writeback make single runs vary by +-20%.
void bench_write(const std::string& dir, fid::sharding::EmbeddingDtype dtype, int64_t rows,
                 int64_t dim, int64_t piece, bool fletcher32 = false) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(rows * dim));
  for (float& x : v) x = normal(rng);
  std::vector<int64_t> ids(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) ids[static_cast<size_t>(i)] = i;
  const size_t elem = dtype == fid::sharding::EmbeddingDtype::kFloat16 ? 2 : 4;
  const double bytes = static_cast<double>(rows) * static_cast<double>(dim * elem + 8);
  std::vector<char> payload(static_cast<size_t>(bytes), 1);

  // Plain: the stored bytes (ids, then vectors), written piece by piece.
  const std::string plain = fid::join_path(dir, "plain.bin");
  auto write_plain = [&] {
    const auto t0 = Clock::now();
    FILE* f = std::fopen(plain.c_str(), "wb");
    for (int64_t r = 0; r < rows; r += piece) {
      const int64_t n = std::min(piece, rows - r);
      std::fwrite(payload.data() + r * 8, 8, static_cast<size_t>(n), f);
      std::fwrite(payload.data() + rows * 8 + r * dim * static_cast<int64_t>(elem), elem * dim,
                  static_cast<size_t>(n), f);
    }
    std::fflush(f);
    fsync(fileno(f));
    std::fclose(f);
    const double t = fid::seconds_since(t0);
    std::remove(plain.c_str());
    return t;
  };
  fid::sharding::ShardMeta meta;
  meta.dim = dim;
  meta.dtype = dtype;
  meta.model_fingerprint = "bench";
  meta.passages_fingerprint = "bench";
  meta.rows = {0, rows};
  const std::string file = fid::join_path(dir, "write_" + fid::sharding::dtype_name(dtype) + ".h5");
  auto write_shard = [&] {
    const auto t0 = Clock::now();
    {
      fid::sharding::WriterOptions wo;
      wo.chunk_rows = fid::sharding::shard_chunk_rows(piece, dim * static_cast<int64_t>(elem));
      wo.fletcher32 = fletcher32;
      fid::sharding::EmbeddingShardWriter w(file, meta, wo);
      for (int64_t r = 0; r < rows; r += piece) {
        const int64_t n = std::min(piece, rows - r);
        w.append(ids.data() + r, v.data() + r * dim, n);
      }
      w.finish();  // fsync + rename
    }
    const double t = fid::seconds_since(t0);
    std::remove(file.c_str());
    return t;
  };
  double t_plain = 1e30, t_h5 = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    t_plain = std::min(t_plain, write_plain());
    t_h5 = std::min(t_h5, write_shard());
  }
  std::printf("write %-7s%s %lld x %lld in pieces of %lld rows (%.1f MB), best of 5: HDF5 shard "
              "%.1f MB/s, fwrite+fsync %.1f MB/s, ratio %.2f\n",
              fid::sharding::dtype_name(dtype).c_str(), fletcher32 ? " +fletcher32" : "",
              static_cast<long long>(rows),
              static_cast<long long>(dim), static_cast<long long>(piece), bytes / 1e6,
              bytes / 1e6 / t_h5, bytes / 1e6 / t_plain, t_plain / t_h5);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "write") {
    // Only the write comparison: bench_embed write [rows_per_append=512]
    const int64_t piece = argc > 2 ? std::atoll(argv[2]) : 512;
    const std::string dir = temp_dir();
    bench_write(dir, fid::sharding::EmbeddingDtype::kFloat16, 65536, 768, piece);
    bench_write(dir, fid::sharding::EmbeddingDtype::kFloat32, 32768, 768, piece);
    bench_write(dir, fid::sharding::EmbeddingDtype::kFloat16, 65536, 768, piece, true);
    std::system(("rm -rf '" + dir + "'").c_str());
    return 0;
  }
  const int64_t small_n = argc > 1 ? std::atoll(argv[1]) : 2000;
  const int64_t base_n = argc > 2 ? std::atoll(argv[2]) : 48;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 32;
  const int threads = fid::dist::threads_per_rank(1, argc > 4 ? std::atoi(argv[4]) : 0);
  fid::dist::configure_threads(threads);
  const std::string dir = temp_dir();
  const std::string fixtures = std::string(FID_SOURCE_DIR) + "/tests/data/fixtures/bert";
  const std::string vocab = fid::read_file(fixtures + "/vocab.txt");
  std::printf("bench_embed: %s; %s\n", fid::runtime::choose_placement(true, c10::Device(c10::DeviceType::CPU)).reason.c_str(),
              fid::model::cpu_has_native_bf16() ? "native bf16" : "no native bf16");

  write_passages(fid::join_path(dir, "small.tsv"), vocab, small_n);
  write_passages(fid::join_path(dir, "base.tsv"), vocab, base_n);
  make_retriever(fid::join_path(dir, "small"), 128, 2, 4, 512, 128, fixtures);
  make_retriever(fid::join_path(dir, "base"), 768, 12, 12, 3072, 768, fixtures);
  std::printf("small: BERT 128 hidden x 2 layers, projection to 128; base: BERT-base (768 x 12, "
              "3072 ffn), projection to 768; passages of 20-170 words, max 200 tokens, batch %lld, "
              "%d intra-op threads + 1 tokenizer thread\n",
              static_cast<long long>(batch), threads);
  bench_pipeline("small", fid::join_path(dir, "small"), fid::join_path(dir, "small.tsv"), batch, dir);
  bench_pipeline("base", fid::join_path(dir, "base"), fid::join_path(dir, "base.tsv"), batch, dir);

  // One pipeline window (16 batches) per append, 768-d vectors.
  const int64_t window = batch * 16;
  bench_write(dir, fid::sharding::EmbeddingDtype::kFloat16, 65536, 768, window);
  bench_write(dir, fid::sharding::EmbeddingDtype::kFloat32, 32768, 768, window);
  bench_write(dir, fid::sharding::EmbeddingDtype::kFloat16, 65536, 768, window, true);
  std::system(("rm -rf '" + dir + "'").c_str());
  return 0;
}
