// A t5-small-sized FiD reader (d_model 512, 6+6 layers, 8 heads, d_ff 2048,
// vocab 32128) on N=10 passages of L=200 tokens, batch 1: the training step
// (clear gradients + forward + backward + AdamW, as the trainer runs it) and greedy
// generation, in float32 and bfloat16 autocast (--precision of the reader),
// with and without gradient checkpointing. Prints step time, achieved GFLOP/s
// (matmul FLOPs counted analytically; a training step counts 3x the forward),
// the ratio to a large float32 matmul measured in the same process, peak RSS,
// and bf16's loss and logit difference from fp32.
//
// Each configuration runs in its own child process, so peak RSS figures don't
// mix. On a machine shared with other jobs the speed drifts by tens of
// percent within seconds, so the ratio is given two ways: overall (the best
// step against the best matmul of the child, which mixes moments) and per step
// (each step against the faster of the matmuls run just before and after it),
// as the median and the best over the steps. `--repeat` reruns everything.
//
// Run: build/bench/bench_reader [--threads 2] [--blas_threads T] [--steps 5]
//        [--gen_length 20] [--force_bf16 1] [--repeat 1] [--only NAME] [--profile 1|2]
//        [--wait_policy passive|keep] [--caching_allocator 1|0] [--libtorch_adamw 0|1]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>

#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/system.h"
#include "model/autocast.h"
#include "model/cpu_allocator.h"
#include "model/fid.h"
#include "op_profile.h"
#include "train/optim.h"

namespace {
using namespace fid::model;

struct Options {
  int threads = 2, blas_threads = 0, steps = 5, warmup = 1, repeat = 1;
  int64_t n = 10, l = 200, b = 1, t = 20, gen_length = 20;
  std::string child;  // "train" | "generate" | "compare" | "" (parent)
  std::string precision = "fp32";
  bool checkpoint = false;
  bool force_bf16 = false;  // time bf16 even where its matmul is slower than fp32
  double dropout = 0.1;
  std::string only;  // run only configurations whose name contains this
  int profile = 0;   // print the operators' self time of one step (2: by input shapes too)
  std::string wait_policy = "passive";  // children's OMP_WAIT_POLICY / OPENBLAS_THREAD_TIMEOUT unless set: passive | keep
  bool caching_allocator = true;        // the model library's caching CPU allocator
  bool libtorch_adamw = false;          // LibTorch's AdamW instead of the trainer's fused one
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

T5Config small_config(double dropout) {
  T5Config c;  // T5Config's defaults are t5-small's sizes
  c.vocab_size = 32128;
  c.dropout_rate = dropout;
  return c;
}

// Forward matmul FLOPs (2 per multiply-add) of FiD on B x N passages of L
// tokens and a T-token decoder input.
double forward_flops(const T5Config& c, double b, double n, double l, double t) {
  const double d = c.d_model, inner = c.num_heads * c.d_kv, ff = c.d_ff * (c.gated() ? 3.0 : 2.0);
  const double te = b * n * l, td = b * t, s = n * l;
  const double enc_block = 2 * te * d * inner * 4 + 2 * 2 * b * n * c.num_heads * l * l * c.d_kv + 2 * te * d * ff;
  const double dec_block = 2 * td * d * inner * 4 + 2 * 2 * b * c.num_heads * t * t * c.d_kv  // self
                           + 2 * td * d * inner * 2 + 2 * b * s * d * inner * 2              // cross q,o / k,v
                           + 2 * 2 * b * c.num_heads * t * s * c.d_kv                         // cross scores
                           + 2 * td * d * ff;
  return c.num_layers * enc_block + c.num_decoder_layers * dec_block + 2 * td * d * c.vocab_size;
}

// OpenBLAS keeps its own thread pool, which at::set_num_threads does not set.
void set_blas_threads(int n) {
  using Set = void (*)(int);
  if (auto fn = reinterpret_cast<Set>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
}
int blas_threads() {
  using Get = int (*)();
  auto fn = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn ? fn() : -1;
}

std::string cpu_summary() {
  auto yes = [](const char* f) { return fid::cpu_has_flag(f) ? "yes" : "no"; };
  return fid::cpu_model_name() + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs, avx2 " +
         yes("avx2") + ", avx512f " + yes("avx512f") + ", avx512_bf16 " + yes("avx512_bf16") + ", amx_bf16 " +
         yes("amx_bf16");
}

// Best of `reps` n^3 products in `dtype`, in GFLOP/s.
double matmul_gflops(at::ScalarType dtype, int64_t n, int reps) {
  at::Tensor a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype);
  at::Tensor c = at::matmul(a, b);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    at::matmul_out(c, a, b);
    best = std::min(best, now() - t0);
  }
  return 2.0 * n * n * n / best / 1e9;
}

struct Batch {
  at::Tensor ids, mask, labels;
};

Batch make_batch(const Options& o, int64_t vocab) {
  at::manual_seed(1);
  Batch x;
  x.ids = at::randint(3, vocab, {o.b, o.n, o.l}, at::kLong);
  x.mask = at::ones({o.b, o.n, o.l}, at::kLong);
  x.labels = at::randint(3, vocab, {o.b, o.t}, at::kLong);
  return x;
}

// Minor page faults and system CPU seconds of this process so far: freshly
// mapped memory costs a fault per 4 KiB page, the kernel's time.
struct Usage {
  double faults = 0, sys = 0;
};
Usage usage() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return {static_cast<double>(u.ru_minflt), u.ru_stime.tv_sec + 1e-6 * u.ru_stime.tv_usec};
}

// One configuration; prints "RESULT key=value ..." for the parent.
void run_child(const Options& o) {
  if (o.caching_allocator) install_caching_cpu_allocator();
  at::set_num_threads(o.threads);
  set_blas_threads(o.blas_threads);
  const T5Config c = small_config(o.dropout);
  std::map<std::string, double> r;
  const double mm_before = matmul_gflops(at::kFloat, 2048, 3);
  // The matmul rate right before each timed step (and after the last): the
  // machine's speed drifts by tens of percent from one second to the next
  // when other jobs share it, so each step is compared with its neighbours.
  std::vector<double> adjacent_mm;
  auto model = std::make_shared<T5Model>(c);
  init_t5_weights(*model, 0);
  FidReader reader(model);
  Batch x = make_batch(o, c.vocab_size);
  const Precision precision = parse_precision(o.precision, "--precision");
  std::vector<double> times;
  if (o.child == "train") {
    model->train();
    model->set_gradient_checkpointing(o.checkpoint);
    // The trainer's optimizer (fused AdamW), or LibTorch's with --libtorch_adamw 1.
    fid::train::OptimOptions oo;
    oo.optim = "adamw", oo.lr = 1e-4, oo.weight_decay = 0.01;
    std::unique_ptr<torch::optim::Optimizer> fused = fid::train::make_optimizer(oo, model->parameters());
    torch::optim::AdamW libtorch_adamw(model->parameters(), torch::optim::AdamWOptions(1e-4));
    torch::optim::Optimizer& opt = o.libtorch_adamw ? static_cast<torch::optim::Optimizer&>(libtorch_adamw) : *fused;
    double fwd = 0, bwd = 0, upd = 0, loss = 0;
    Usage u0;
    for (int s = 0; s < o.warmup + o.steps; ++s) {
      if (s >= o.warmup) adjacent_mm.push_back(matmul_gflops(at::kFloat, 2048, 1));
      if (s == o.warmup) u0 = usage();
      const double t0 = now();
      std::unique_ptr<fid::bench::Profiler> prof;
      if (o.profile && s == o.warmup) prof = fid::bench::start_profile(o.profile > 1);
      fid::train::clear_gradients(model->parameters());
      at::Tensor l;
      {
        AutocastScope ac(precision);
        l = reader.forward(x.ids, x.mask, x.labels).loss;
      }
      const double t1 = now();
      l.backward();
      const double t2 = now();
      opt.step();
      const double t3 = now();
      if (s >= o.warmup) {
        times.push_back(t3 - t0);
        fwd += t1 - t0, bwd += t2 - t1, upd += t3 - t2;
      }
      loss = l.item<double>();
    }
    const Usage u1 = usage();
    r["faults_per_step"] = (u1.faults - u0.faults) / o.steps;
    r["sys_per_step"] = (u1.sys - u0.sys) / o.steps;
    r["forward"] = fwd / o.steps;
    r["backward"] = bwd / o.steps;
    r["optimizer"] = upd / o.steps;
    r["flops"] = 3 * forward_flops(c, o.b, o.n, o.l, o.t);
    r["loss"] = loss;
  } else if (o.child == "generate") {
    model->eval();
    double len = 0;
    for (int s = 0; s < o.warmup + o.steps; ++s) {
      if (s >= o.warmup) adjacent_mm.push_back(matmul_gflops(at::kFloat, 2048, 1));
      const double t0 = now();
      std::unique_ptr<fid::bench::Profiler> prof;
      if (o.profile && s == o.warmup) prof = fid::bench::start_profile(o.profile > 1);
      AutocastScope ac(precision);
      FidGeneration g = reader.generate(x.ids, x.mask, o.gen_length);
      if (s >= o.warmup) times.push_back(now() - t0);
      len = static_cast<double>(g.ids.size(1));
    }
    r["length"] = len;
    // Encoder and cross K/V once, then one 1-token decoder pass per step.
    const double base = forward_flops(c, o.b, o.n, o.l, 0);
    r["flops"] = base + (len - 1) * (forward_flops(c, o.b, o.n, o.l, 1) - base);
  } else {  // compare: bf16 vs fp32 logits and loss on the same weights
    model->eval();
    at::NoGradGuard ng;
    FidOutput a = reader.forward(x.ids, x.mask, x.labels);
    FidOutput b;
    {
      AutocastScope ac(Precision::kBf16);
      b = reader.forward(x.ids, x.mask, x.labels);
    }
    at::Tensor diff = (a.logits - b.logits.to(at::kFloat)).abs();
    r["loss_fp32"] = a.loss.item<double>();
    r["loss_bf16"] = b.loss.item<double>();
    r["logit_max_diff"] = diff.max().item<double>();
    r["logit_mean_diff"] = diff.mean().item<double>();
    r["logit_max_abs"] = a.logits.abs().max().item<double>();
    r["argmax_agree"] = (a.logits.argmax(-1) == b.logits.argmax(-1)).to(at::kDouble).mean().item<double>();
  }
  r["peak_rss_mb"] = fid::peak_rss_bytes() / 1048576.0;
  if (!times.empty()) {
    double sum = 0;
    for (double t : times) sum += t;
    r["seconds"] = sum / times.size();
    r["best_seconds"] = *std::min_element(times.begin(), times.end());
    adjacent_mm.push_back(matmul_gflops(at::kFloat, 2048, 1));
    r["matmul"] = std::max(mm_before, matmul_gflops(at::kFloat, 2048, 3));
    // Step i against the faster of the matmuls just before and after it.
    std::vector<double> ratios;
    for (size_t i = 0; i < times.size(); ++i)
      ratios.push_back(r["flops"] / times[i] / 1e9 / std::max(adjacent_mm[i], adjacent_mm[i + 1]));
    std::sort(ratios.begin(), ratios.end());
    r["ratio_median"] = ratios[ratios.size() / 2];
    r["ratio_best"] = ratios.back();
  }
  std::printf("RESULT");
  for (auto& [k, v] : r) std::printf(" %s=%.6g", k.c_str(), v);
  std::printf("\n");
}

std::map<std::string, double> spawn(const std::string& self, const Options& o, const std::string& args) {
  const std::string cmd = self + " --threads " + std::to_string(o.threads) + " --blas_threads " +
                          std::to_string(o.blas_threads) + " --steps " + std::to_string(o.steps) +
                          " --gen_length " + std::to_string(o.gen_length) + " --dropout " +
                          std::to_string(o.dropout) + " --profile " + std::to_string(o.profile) +
                          " --caching_allocator " + (o.caching_allocator ? "1" : "0") +
                          " --libtorch_adamw " + (o.libtorch_adamw ? "1" : "0") + " " + args;
  FILE* p = popen(cmd.c_str(), "r");
  std::map<std::string, double> r;
  char line[4096];
  while (p && std::fgets(line, sizeof line, p)) {
    std::string s(line);
    if (s.rfind("RESULT", 0) != 0) {
      std::fputs(line, stdout);  // profiles, warnings
      continue;
    }
    size_t pos = 6;
    while ((pos = s.find(' ', pos)) != std::string::npos) {
      const size_t eq = s.find('=', pos), end = s.find_first_of(" \n", eq);
      r[s.substr(pos + 1, eq - pos - 1)] = std::atof(s.substr(eq + 1, end - eq - 1).c_str());
      pos = end;
    }
  }
  if (p) pclose(p);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--threads") o.threads = std::atoi(v.c_str());
    else if (k == "--blas_threads") o.blas_threads = std::atoi(v.c_str());
    else if (k == "--steps") o.steps = std::atoi(v.c_str());
    else if (k == "--repeat") o.repeat = std::atoi(v.c_str());
    else if (k == "--gen_length") o.gen_length = std::atoll(v.c_str());
    else if (k == "--child") o.child = v;
    else if (k == "--precision") o.precision = v;
    else if (k == "--checkpoint") o.checkpoint = v == "1";
    else if (k == "--force_bf16") o.force_bf16 = v == "1";
    else if (k == "--dropout") o.dropout = std::atof(v.c_str());
    else if (k == "--only") o.only = v;
    else if (k == "--profile") o.profile = std::atoi(v.c_str());
    else if (k == "--wait_policy") o.wait_policy = v;
    else if (k == "--caching_allocator") o.caching_allocator = v == "1";
    else if (k == "--libtorch_adamw") o.libtorch_adamw = v == "1";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.threads < 1 || o.steps < 1) {
    std::fprintf(stderr, "--threads and --steps must be at least 1\n");
    return 2;
  }
  if (o.blas_threads < 1) o.blas_threads = o.threads;
  if (!o.child.empty()) {
    run_child(o);
    return 0;
  }
  // libgomp reads OMP_WAIT_POLICY when it loads, so it is set for the
  // children. Its default, spinning after every parallel region, takes the
  // cores from OpenBLAS's own pthread pool (and vice versa): measured on 2
  // cores, a training step took 19.7 s spinning and 10.7 s passive.
  if (o.wait_policy == "passive") setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  // OpenBLAS's workers, read when it loads too: sleep at once after a product
  // instead of yielding for 2^28 cycles (launch/env.sh sets the same).
  if (o.wait_policy == "passive") setenv("OPENBLAS_THREAD_TIMEOUT", "4", /*overwrite=*/0);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* blas_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  at::set_num_threads(o.threads);
  set_blas_threads(o.blas_threads);
  fid::warn_if_reference_blas();
  const double mm32 = matmul_gflops(at::kFloat, 2048, 5), mm16 = matmul_gflops(at::kBFloat16, 1024, 2);
  std::printf("CPU: %s\nBLAS: %s; intra-op threads %d, BLAS threads %d, OMP_WAIT_POLICY %s, "
              "caching CPU allocator %s\n",
              cpu_summary().c_str(), fid::loaded_blas_library().c_str(), o.threads, blas_threads(),
              policy ? policy : "(unset: libgomp spins)", o.caching_allocator ? "on" : "off");
  std::printf("OPENBLAS_THREAD_TIMEOUT %s\n", blas_timeout ? blas_timeout : "(unset: 28)");
  std::printf("optimizer: %s\n", o.libtorch_adamw ? "LibTorch's AdamW" : "fused AdamW (the trainer's)");
  std::printf("matmul: fp32 %.1f GFLOP/s (2048^3), bf16 %.1f GFLOP/s (1024^3)\n", mm32, mm16);
  const T5Config c = small_config(o.dropout);
  std::printf("t5-small FiD, B=1 N=%lld L=%lld, target %lld tokens, dropout %.2f: forward %.1f GFLOP, "
              "training step %.1f GFLOP; %d timed steps after %d warm-up\n",
              (long long)o.n, (long long)o.l, (long long)o.t, o.dropout,
              forward_flops(c, o.b, o.n, o.l, o.t) / 1e9, 3 * forward_flops(c, o.b, o.n, o.l, o.t) / 1e9, o.steps,
              o.warmup);
  const std::string self = argv[0];
  struct Cfg {
    const char* name;
    std::string args;
    bool bf16;
  };
  const std::vector<Cfg> cfgs = {
      {"train fp32", "--child train --precision fp32 --checkpoint 0", false},
      {"train fp32 checkpointing", "--child train --precision fp32 --checkpoint 1", false},
      {"train bf16", "--child train --precision bf16 --checkpoint 0", true},
      {"train bf16 checkpointing", "--child train --precision bf16 --checkpoint 1", true},
      {"generate fp32", "--child generate --precision fp32", false},
      {"generate bf16", "--child generate --precision bf16", true},
  };
  // Without native bf16 (AVX512-BF16/AMX) LibTorch 1.13's bf16 matmul is a
  // scalar fallback: a bf16 training step then takes minutes.
  const bool time_bf16 = o.force_bf16 || mm16 >= mm32;
  if (!time_bf16)
    std::printf("bf16 timings skipped: this CPU's bf16 matmul (%.1f GFLOP/s) is slower than fp32 (%.1f); "
                "--force_bf16 1 runs them anyway\n", mm16, mm32);
  std::printf("ratio: the step's GFLOP/s over the matmul's, overall (best step / best matmul of the child) and\n"
              "per step (each step / the faster matmul just before or after it): median and best\n");
  std::printf("%-26s %8s %8s %8s %7s %7s %7s %8s %9s  %s\n", "configuration", "best_s", "mean_s", "GFLOP/s", "ratio",
              "r_med", "r_best", "matmul", "peakRSS_MB", "extra");
  for (int rep = 0; rep < o.repeat; ++rep) {
    for (const auto& cfg : cfgs) {
      if (cfg.bf16 && !time_bf16) continue;
      if (!o.only.empty() && std::string(cfg.name).find(o.only) == std::string::npos) continue;
      auto r = spawn(self, o, cfg.args);
      if (r.empty()) {
        std::printf("%-26s failed\n", cfg.name);
        continue;
      }
      const double gf = r["flops"] / r["best_seconds"] / 1e9;
      // The ratio is to the float32 matmul for both precisions: what bf16 gains.
      std::printf("%-26s %8.3f %8.3f %8.1f %7.3f %7.3f %7.3f %8.1f %9.0f ", cfg.name, r["best_seconds"], r["seconds"],
                  gf, gf / r["matmul"], r["ratio_median"], r["ratio_best"], r["matmul"], r["peak_rss_mb"]);
      if (r.count("forward"))
        std::printf(" fwd %.2f bwd %.2f opt %.2f loss %.4f; a step: %.0fk page faults, %.2f s system time",
                    r["forward"], r["backward"], r["optimizer"], r["loss"], r["faults_per_step"] / 1e3,
                    r["sys_per_step"]);
      if (r.count("length")) std::printf(" %.0f tokens", r["length"]);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  if (!o.only.empty()) return 0;
  auto d = spawn(self, o, "--child compare");
  std::printf("bf16 vs fp32 (eval forward, same weights): loss %.5f vs %.5f (|diff| %.2e); logits max |diff| %.3g, "
              "mean %.3g (max |logit| %.3g); argmax agreement %.4f\n",
              d["loss_bf16"], d["loss_fp32"], std::abs(d["loss_bf16"] - d["loss_fp32"]), d["logit_max_diff"],
              d["logit_mean_diff"], d["logit_max_abs"], d["argmax_agree"]);
  return 0;
}
