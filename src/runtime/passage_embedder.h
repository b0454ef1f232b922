// Passage embedding for `fid embed-passages` (the seed's
// generate_passage_embeddings.py): a streaming pipeline per rank.
//
//   reader thread ─▶ tokenizer threads ─▶ model (calling thread) ─▶ writer thread
//   rows in file     a window of batches   one batch at a time,      rows back in
//   order, cut into  tokenized at once,    reduced precision by      file order, to
//   windows          sorted by length      default                   the sink
//
// Sorting by length inside a window cuts padding only when the model masks
// passage padding (apply_passage_mask); without the mask the seed pads every
// passage to passage_maxlength and the padding changes the embedding, so the
// pipeline does the same. Output stays in file order: a window is written
// whole, in order, whatever order its batches ran in.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <string>


namespace fid::data { class PassageStore; }

namespace fid::runtime {

class LoadedRetriever;

struct EmbedOptions {
  int64_t batch_size = 64;     // passages per forward (--per_gpu_batch_size)
  int64_t window_batches = 16;  // batches tokenized and length-sorted together
  int tokenizer_threads = 1;
  c10::Device device = c10::Device(c10::DeviceType::CPU);
  c10::ScalarType dtype = c10::ScalarType::Float;
  bool int8 = false;  // dynamically quantized int8 products (model/bert_int8.h); CPU, float32
};

// Seconds spent in each stage, summed over its threads, and the token counts
// that show what length sorting saved.
struct EmbedStats {
  int64_t rows = 0;
  double wall_s = 0, read_s = 0, tokenize_s = 0, model_s = 0, write_s = 0;
  double model_wait_s = 0;  // the model waiting for tokenized text
  int64_t tokens = 0;         // real tokens
  int64_t padded_tokens = 0;  // tokens the model ran on (padding included)
  double rows_per_s() const { return wall_s > 0 ? static_cast<double>(rows) / wall_s : 0.0; }
};

// Receives rows in file order: ids[n] (passage rows), vectors[n * dim].
using EmbedSink = std::function<void(const int64_t* ids, const float* vectors, int64_t n)>;

class PassageEmbedder {
 public:
  // Moves the model to options.device and options.dtype, in eval mode.
  PassageEmbedder(LoadedRetriever& retriever, const EmbedOptions& options);
  int64_t dim() const;
  bool sorts_by_length() const;

  // Embeds rows [begin, end) of `store`; the sink sees them in order. The
  // first error of any stage stops every stage and is rethrown here.
  // `on_rows` (optional) is called from the writer thread after each sink call.
  EmbedStats run(const data::PassageStore& store, int64_t begin, int64_t end,
                 const EmbedSink& sink, const std::function<void(int64_t)>& on_rows = {});

 private:
  LoadedRetriever& retriever_;
  EmbedOptions options_;
};

}  // namespace fid::runtime
