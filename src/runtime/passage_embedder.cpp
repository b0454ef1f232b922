#include "runtime/passage_embedder.h"

#include "model/bert_int8.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/passages.h"
#include "runtime/pipeline_queue.h"
#include "runtime/loaded_retriever.h"

namespace fid::runtime {
namespace {
using Clock = std::chrono::steady_clock;

// Rows of the passages file as read: one window of batches.
struct RawWindow {
  int64_t seq = 0;
  int64_t first_row = 0;
  std::vector<std::string> titles, texts;
};

// One forward's input: rows `positions` of its window (in the order of the
// batch), padded to the batch's longest (or to passage_maxlength).
struct Batch {
  at::Tensor ids, mask;  // (b, L) int64
  std::vector<int64_t> positions;
};
struct TokenizedWindow {
  int64_t first_row = 0;
  int64_t rows = 0;
  std::vector<Batch> batches;
};
struct EmbeddedWindow {
  int64_t first_row = 0;
  int64_t rows = 0;
  std::vector<float> vectors;  // (rows, dim), window order = file order
};

// The first error of any stage, and what each stage must do on it: abort the
// queues so that no thread stays blocked on another.
class Failure {
 public:
  template <typename F>
  void on_abort(F f) { aborts_.emplace_back(std::move(f)); }
  void set(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_) first_ = e;
    failed_ = true;
    for (auto& f : aborts_) f();
  }
  bool failed() const { return failed_; }
  void rethrow() {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::mutex mu_;
  std::exception_ptr first_;
  std::atomic<bool> failed_{false};
  std::vector<std::function<void()>> aborts_;
};

// Rows `positions` of (n, Lmax) ids/mask, trimmed to `length` columns. Plain
// copies: ATen's parallel kernels would start thread teams in every worker.
void gather_rows(const int64_t* ids, const int64_t* mask, int64_t lmax,
                 const std::vector<int64_t>& positions, int64_t length, Batch& out) {
  const auto b = static_cast<int64_t>(positions.size());
  out.ids = at::empty({b, length}, at::kLong);
  out.mask = at::empty({b, length}, at::kLong);
  int64_t* oi = out.ids.data_ptr<int64_t>();
  int64_t* om = out.mask.data_ptr<int64_t>();
  for (int64_t r = 0; r < b; ++r) {
    const int64_t src = positions[static_cast<size_t>(r)] * lmax;
    std::memcpy(oi + r * length, ids + src, static_cast<size_t>(length) * sizeof(int64_t));
    std::memcpy(om + r * length, mask + src, static_cast<size_t>(length) * sizeof(int64_t));
  }
}
}  // namespace

PassageEmbedder::PassageEmbedder(LoadedRetriever& retriever, const EmbedOptions& options)
    : retriever_(retriever), options_(options) {
  FID_CHECK(options_.batch_size > 0, "--per_gpu_batch_size must be positive, got ",
            options_.batch_size);
  options_.window_batches = std::max<int64_t>(1, options_.window_batches);
  options_.tokenizer_threads = std::max(1, options_.tokenizer_threads);
  retriever_.model()->eval();
  retriever_.model()->to(options_.device, options_.dtype);
  if (options_.int8) {
    FID_CHECK(options_.device.is_cpu() && options_.dtype == at::kFloat,
              "--precision int8 runs on the CPU from float32 weights (use --device cpu)");
    model::quantize_bert_int8(*retriever_.model()->model);
  }
}

int64_t PassageEmbedder::dim() const { return retriever_.model()->config().output_dim(); }

bool PassageEmbedder::sorts_by_length() const {
  return retriever_.model()->config().apply_passage_mask;
}

EmbedStats PassageEmbedder::run(const data::PassageStore& store, int64_t begin, int64_t end,
                                const EmbedSink& sink, const std::function<void(int64_t)>& on_rows) {
  FID_CHECK(begin >= 0 && begin <= end && end <= store.size(), "rows [", begin, ", ", end,
            ") outside the ", store.size(), " passages of '", store.path(), "'");
  const auto t_start = Clock::now();
  const int64_t window_rows = options_.batch_size * options_.window_batches;
  const int workers = options_.tokenizer_threads;
  const bool sort = sorts_by_length();
  const int64_t d = dim();

  BoundedQueue<RawWindow> raw_q(static_cast<size_t>(workers));
  ReorderQueue<TokenizedWindow> tok_q(workers + 1);
  BoundedQueue<EmbeddedWindow> out_q(2);
  Failure failure;
  failure.on_abort([&] { raw_q.abort(); tok_q.abort(); out_q.abort(); });
  auto guarded = [&failure](auto&& fn) {
    try {
      fn();
    } catch (...) {
      failure.set(std::current_exception());
    }
  };
  EmbedStats stats;
  std::mutex stats_mu;

  std::thread reader([&] {
    guarded([&] {
      data::PassageReader in(store, begin, end);
      data::Passage p;
      double busy = 0;
      int64_t seq = 0;
      for (int64_t row = begin; row < end; ++seq) {
        const auto t0 = Clock::now();
        RawWindow w;
        w.seq = seq;
        w.first_row = row;
        const int64_t n = std::min(window_rows, end - row);
        for (int64_t i = 0; i < n; ++i) {
          FID_CHECK(in.next(p), "'", store.path(), "' ended at passage row ", row + i,
                    " but its index lists ", store.size(),
                    " rows: the file changed while being read; run again");
          w.titles.push_back(std::move(p.title));
          w.texts.push_back(std::move(p.text));
        }
        row += n;
        busy += seconds_since(t0);
        if (!raw_q.push(std::move(w))) return;
      }
      raw_q.close();
      tok_q.close(seq);
      std::lock_guard<std::mutex> lock(stats_mu);
      stats.read_s = busy;
    });
  });

  std::vector<std::thread> tokenizers;
  for (int t = 0; t < workers; ++t) {
    tokenizers.emplace_back([&] {
      guarded([&] {
        double busy = 0;
        int64_t tokens = 0, padded = 0;
        while (auto w = raw_q.pop()) {
          const auto t0 = Clock::now();
          RetrieverInputs in = retriever_.encode_passages(w->titles, w->texts);
          const at::Tensor ids = in.passage_ids.contiguous(), mask = in.passage_mask.contiguous();
          const int64_t n = ids.size(0), lmax = ids.size(1);  // (n, Lmax)
          const int64_t* pm = mask.data_ptr<int64_t>();
          std::vector<int64_t> len(static_cast<size_t>(n));
          for (int64_t r = 0; r < n; ++r) {
            len[static_cast<size_t>(r)] = std::accumulate(pm + r * lmax, pm + (r + 1) * lmax, int64_t{0});
          }
          std::vector<int64_t> order(static_cast<size_t>(n));
          std::iota(order.begin(), order.end(), 0);
          if (sort) {
            std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
              return len[static_cast<size_t>(a)] > len[static_cast<size_t>(b)];
            });
          }
          TokenizedWindow out;
          out.first_row = w->first_row;
          out.rows = n;
          for (int64_t s = 0; s < n; s += options_.batch_size) {
            Batch b;
            b.positions.assign(order.begin() + s, order.begin() + std::min(n, s + options_.batch_size));
            int64_t length = lmax;
            if (sort) {
              length = 1;
              for (int64_t p : b.positions) length = std::max(length, len[static_cast<size_t>(p)]);
            }
            for (int64_t p : b.positions) tokens += len[static_cast<size_t>(p)];
            padded += length * static_cast<int64_t>(b.positions.size());
            gather_rows(ids.data_ptr<int64_t>(), pm, lmax, b.positions, length, b);
            out.batches.push_back(std::move(b));
          }
          busy += seconds_since(t0);
          if (!tok_q.push(w->seq, std::move(out))) return;
        }
        std::lock_guard<std::mutex> lock(stats_mu);
        stats.tokenize_s += busy;
        stats.tokens += tokens;
        stats.padded_tokens += padded;
      });
    });
  }

  std::thread writer([&] {
    guarded([&] {
      std::vector<int64_t> ids;
      double busy = 0;
      while (auto w = out_q.pop()) {
        const auto t0 = Clock::now();
        ids.resize(static_cast<size_t>(w->rows));
        std::iota(ids.begin(), ids.end(), w->first_row);
        sink(ids.data(), w->vectors.data(), w->rows);
        busy += seconds_since(t0);
        if (on_rows) on_rows(w->rows);
      }
      std::lock_guard<std::mutex> lock(stats_mu);
      stats.write_s = busy;
    });
  });

  // The model runs on this thread, with the intra-op threads of the rank.
  guarded([&] {
    c10::InferenceMode inference;
    auto& model = retriever_.model();
    for (;;) {
      const auto t_wait = Clock::now();
      auto w = tok_q.pop();
      stats.model_wait_s += seconds_since(t_wait);
      if (!w) break;
      const auto t0 = Clock::now();
      EmbeddedWindow out;
      out.first_row = w->first_row;
      out.rows = w->rows;
      out.vectors.resize(static_cast<size_t>(w->rows * d));
      for (const Batch& b : w->batches) {
        at::Tensor v = model->embed_passages(b.ids.to(options_.device), b.mask.to(options_.device))
                           .to(at::kFloat)
                           .to(at::kCPU)
                           .contiguous();  // (b, D)
        FID_CHECK(v.size(1) == d, "the retriever returned vectors of size ", v.size(1),
                  " but its config says ", d);
        const float* src = v.data_ptr<float>();
        for (size_t r = 0; r < b.positions.size(); ++r) {
          std::memcpy(out.vectors.data() + b.positions[r] * d, src + static_cast<int64_t>(r) * d,
                      static_cast<size_t>(d) * sizeof(float));
        }
      }
      stats.model_s += seconds_since(t0);
      stats.rows += out.rows;
      if (!out_q.push(std::move(out))) break;
    }
    if (!failure.failed()) out_q.close();
  });

  reader.join();
  for (auto& t : tokenizers) t.join();
  writer.join();
  failure.rethrow();
  FID_CHECK(stats.rows == end - begin, "embedded ", stats.rows, " rows of ", end - begin);
  stats.wall_s = seconds_since(t_start);
  return stats;
}

}  // namespace fid::runtime
