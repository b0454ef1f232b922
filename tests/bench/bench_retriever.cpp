// Passage-embedding throughput of a BERT-base-sized FiD retriever (768 hidden,
// 12 layers, 12 heads, 3072 ffn, projection to 768) in float32 and bfloat16,
// each as a fraction of a large matmul of the same dtype measured in the same
// run, and how far the bfloat16 embeddings are from the float32 ones.
// Run: build/bench/bench_retriever [passages=128] [batch=32] [length=200] [threads=0: default]
// Weights are random (HF init): throughput does not depend on them, and the
// bf16-vs-fp32 figures describe rounding, not retrieval quality.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "model/bert.h"
#include "model/bert_int8.h"
#include "model/retriever.h"

namespace {
using fid::model::Retriever;
using fid::model::RetrieverConfig;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Forward FLOPs of one passage: the dense layers 2*L*(4H^2 + 2HI) and the
// attention products 4*L^2*H per layer, plus the projection 2*L*H*D.
double flops_per_passage(const RetrieverConfig& c, int64_t len) {
  const double h = c.bert.hidden_size, i = c.bert.intermediate_size, l = len;
  const double layer = 2 * l * (4 * h * h + 2 * h * i) + 4 * l * l * h;
  return c.bert.num_hidden_layers * layer + (c.projection ? 2 * l * h * c.indexing_dimension : 0);
}

// Best of `reps` n x n x n products (GFLOP/s) in `dtype`, through the
// product the model uses (bert_matmul) or LibTorch's at::matmul as it is.
double matmul_gflops(at::ScalarType dtype, int64_t n, int reps, bool model_path) {
  at::Tensor a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype);
  auto product = [&] { return model_path ? fid::model::bert_matmul(a, b) : at::matmul(a, b); };
  product();  // warm-up (thread pool, oneDNN kernels)
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    product();
    best = std::min(best, now() - t0);
  }
  return 2.0 * n * n * n / best / 1e9;
}

struct EmbedResult {
  at::Tensor embeddings;  // (P, D) float32
  double seconds = 0;
};

EmbedResult embed_all(Retriever& model, const at::Tensor& ids, const at::Tensor& mask,
                      int64_t batch) {
  c10::InferenceMode guard;
  // One warm-up batch outside the timing: first-call allocations and kernel selection.
  model->embed_passages(ids.slice(0, 0, std::min<int64_t>(batch, ids.size(0))),
                        mask.slice(0, 0, std::min<int64_t>(batch, ids.size(0))));
  std::vector<at::Tensor> parts;
  const double t0 = now();
  for (int64_t s = 0; s < ids.size(0); s += batch) {
    const int64_t e = std::min(s + batch, ids.size(0));
    parts.push_back(model->embed_passages(ids.slice(0, s, e), mask.slice(0, s, e)));
  }
  EmbedResult r;
  r.seconds = now() - t0;
  r.embeddings = at::cat(parts).to(at::kFloat);
  return r;
}

at::Tensor top_k_ids(const at::Tensor& queries, const at::Tensor& passages, int64_t k) {
  return std::get<1>(at::topk(at::matmul(queries, passages.t()), k, 1));  // (Q, k)
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when piped
  const int64_t n_passages = argc > 1 ? std::atoll(argv[1]) : 128;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 32;
  const int64_t len = argc > 3 ? std::atoll(argv[3]) : 200;
  if (argc > 4 && std::atoi(argv[4]) > 0) at::set_num_threads(std::atoi(argv[4]));
  const int64_t n_queries = std::min<int64_t>(64, n_passages), k = 10, query_len = 32;

  RetrieverConfig config;  // BertConfig defaults are bert-base-uncased
  config.bert.hidden_dropout_prob = config.bert.attention_probs_dropout_prob = 0;
  config.indexing_dimension = 768;
  config.projection = true;
  Retriever model(config);
  fid::model::init_retriever_weights(*model, 1234);
  model->eval();

  // Random word pieces; queries are passage prefixes so that each has a true neighbour.
  at::manual_seed(5);
  at::Tensor ids = at::randint(1000, 30000, {n_passages, len}, at::kLong);  // (P, L)
  ids.select(1, 0).fill_(101);                                          // [CLS]
  at::Tensor mask = at::ones({n_passages, len}, at::kLong);
  at::Tensor q_ids = ids.slice(0, 0, n_queries).slice(1, 0, query_len).clone();  // (Q, Lq)
  at::Tensor q_mask = at::ones_like(q_ids);

  std::printf("bench_retriever: %lld passages x %lld tokens, batch %lld, %d threads, "
              "BERT-base (768/12/12/3072) + projection 768\n",
              (long long)n_passages, (long long)len, (long long)batch, at::get_num_threads());
  const double gflop = flops_per_passage(config, len) / 1e9;
  std::printf("forward cost: %.2f GFLOP per passage\n", gflop);
  if (!fid::model::cpu_has_fast_bf16_gemm())
    std::printf("this CPU has no AVX512: LibTorch's own bf16 GEMM runs %.1f GFLOP/s (1024^3), so "
                "bf16 products are computed in fp32 from bf16 operands (bert_matmul)\n",
                matmul_gflops(at::kBFloat16, 1024, 1, /*model_path=*/false));

  struct Row { const char* name; at::ScalarType dtype; double mm = 0, sec = 0; EmbedResult r; at::Tensor q; };
  // "modules": the module-by-module layer (training's path), the baseline of
  // the fused inference layer; int8 last: it packs the float32 weights
  // (model/bert_int8.h).
  std::vector<Row> rows(4);
  rows[0].name = "float32";
  rows[0].dtype = at::kFloat;
  rows[1].name = "modules";
  rows[1].dtype = at::kFloat;
  rows[2].name = "bfloat16";
  rows[2].dtype = at::kBFloat16;
  rows[3].name = "int8";
  rows[3].dtype = at::kFloat;
  if (std::getenv("FID_BENCH_SKIP_BF16") != nullptr) rows.erase(rows.begin() + 2);  // slow where emulated
  for (auto& row : rows) {
    model->to(row.dtype);
    fid::model::set_bert_fused_inference(std::string(row.name) != "modules");
    if (std::string(row.name) == "int8") fid::model::quantize_bert_int8(*model->model);
    row.mm = matmul_gflops(row.dtype, 2048, 3, /*model_path=*/true);
    row.r = embed_all(model, ids, mask, batch);
    {
      c10::InferenceMode guard;
      row.q = model->embed_questions(q_ids, q_mask).to(at::kFloat);
    }
    const double rate = n_passages / row.r.seconds;
    const double achieved = rate * gflop;
    std::printf("%-8s: %7.2f passages/s (%.1f s), %6.1f GFLOP/s; matmul 2048^3 %6.1f GFLOP/s; "
                "ratio %.2f (goal >= 0.65)\n",
                row.name, rate, row.r.seconds, achieved, row.mm, achieved / row.mm);
  }

  std::printf("fused layer / modules passages per second: %.2f; int8 / float32: %.2f (int8 products on %s)\n",
              rows[1].r.seconds / rows[0].r.seconds, rows[0].r.seconds / rows.back().r.seconds,
              fid::model::int8_engine().c_str());

  // Reduced vs fp32 passages, searched with the fp32 queries (passages are
  // the bulk job; questions are few): per-passage cosine, agreement of a
  // top-10 search, and R@20 of each query's own passage (queries are
  // passage prefixes).
  const at::Tensor& e32 = rows[0].r.embeddings;
  const int64_t k20 = std::min<int64_t>(20, n_passages);
  auto recall20 = [&](const at::Tensor& passages) {
    at::Tensor top = top_k_ids(rows[0].q, passages, k20);  // (Q, 20)
    return (top == at::arange(n_queries).unsqueeze(1)).any(1).to(at::kDouble).mean().item<double>();
  };
  for (size_t i = 1; i < rows.size(); ++i) {
    const at::Tensor& e = rows[i].r.embeddings;
    at::Tensor cos = at::cosine_similarity(e, e32, 1);  // (P)
    at::Tensor t32 = top_k_ids(rows[0].q, e32, std::min(k, n_passages));
    at::Tensor tr = top_k_ids(rows[0].q, e, std::min(k, n_passages));
    double overlap = 0;
    for (int64_t qi = 0; qi < n_queries; ++qi) {
      std::set<int64_t> a, b;
      for (int64_t j = 0; j < t32.size(1); ++j) {
        a.insert(t32[qi][j].item<int64_t>());
        b.insert(tr[qi][j].item<int64_t>());
      }
      int common = 0;
      for (int64_t x : a) common += static_cast<int>(b.count(x));
      overlap += static_cast<double>(common) / t32.size(1);
    }
    std::printf("%s vs fp32 passage embeddings: cosine mean %.6f min %.6f; top-%lld overlap over %lld "
                "queries %.3f; R@20 of the query's own passage %.3f (fp32 %.3f)\n",
                rows[i].name, cos.mean().item<double>(), cos.min().item<double>(), (long long)k,
                (long long)n_queries, overlap / n_queries, recall20(e), recall20(e32));
  }
  return 0;
}
