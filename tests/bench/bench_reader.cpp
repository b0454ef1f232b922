// A t5-small-sized FiD reader (d_model 512, 6+6 layers, 8 heads, d_ff 2048,
// vocab 32128) on N=10 passages of L=200 tokens, batch 1: training step
// (forward + backward + AdamW) and greedy generation, in float32 and bfloat16
// autocast, with and without gradient checkpointing. Prints step time,
// achieved GFLOP/s (matmul FLOPs counted analytically), the ratio to a large
// matmul of the same dtype measured in the same run, and peak RSS. Each
// configuration runs in a child process so that peak RSS figures don't mix.
// Run: build/bench/bench_reader [--threads 2] [--steps 3] [--gen_length 20] [--force_bf16 1]
// On a machine shared with other jobs the wall-clock ratio understates the
// model's efficiency; the "cpu/threads" columns divide by CPU time instead,
// for the steps and the reference matmul alike.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/optim/adamw.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/system.h"
#include "model/fid.h"

namespace {
using namespace fid::model;

struct Options {
  int threads = 2, steps = 3, warmup = 1;
  int64_t n = 10, l = 200, b = 1, t = 20, gen_length = 20;
  std::string child;  // "train" | "generate" | "compare" | "" (parent)
  std::string precision = "fp32";
  bool checkpoint = false;
  bool force_bf16 = false;  // time bf16 even where its matmul is slower than fp32
  double dropout = 0.1;
  std::string only;  // run only configurations whose name contains this
  bool profile = false;  // print the operators' self time of one step
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

// CPU seconds (user + system) of this process: on a shared, oversubscribed
// machine cpu_seconds / threads estimates the step time of an idle machine.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Best of `reps` n^3 products in `dtype`: GFLOP/s by wall time and by CPU
// time per thread (the latter comparable with the steps' CPU-time figures on
// a machine shared with other jobs).
struct MatmulRate {
  double wall = 0, cpu = 0;
};
MatmulRate matmul_rate(at::ScalarType dtype, int64_t n, int reps, int threads) {
  at::Tensor a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype);
  at::Tensor c = at::matmul(a, b);
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now(), c0 = cpu_seconds();
    at::matmul_out(c, a, b);
    best = std::min(best, now() - t0);
    best_cpu = std::min(best_cpu, (cpu_seconds() - c0) / threads);
  }
  const double f = 2.0 * n * n * n / 1e9;
  return {f / best, f / best_cpu};
}
double matmul_gflops(at::ScalarType dtype, int64_t n, int reps) { return matmul_rate(dtype, n, reps, 1).wall; }

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

// bfloat16 autocast around a scope: matmuls run in bf16, reductions in fp32.
struct Autocast {
  explicit Autocast(bool on) : on_(on) {
    if (!on_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~Autocast() {
    if (!on_) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
  bool on_;
};

// Self time per operator name over the recorded ranges (nested ranges
// subtract from their parent), largest first.
void print_profile(const torch::autograd::profiler::thread_event_lists& lists, double total_s) {
  using torch::autograd::profiler::EventKind;
  using torch::autograd::profiler::LegacyEvent;
  std::map<std::string, std::pair<double, int64_t>> self;  // name -> (us, calls)
  for (const auto& events : lists) {
    struct Open {
      const LegacyEvent* e;
      double child_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == EventKind::PopRange && !stack.empty()) {
        const Open o = stack.back();
        stack.pop_back();
        const double us = o.e->cpuElapsedUs(e);
        auto& s = self[o.e->name()];
        s.first += us - o.child_us;
        s.second += 1;
        if (!stack.empty()) stack.back().child_us += us;
      }
    }
  }
  std::vector<std::pair<double, std::string>> order;
  for (auto& [k, v] : self) order.emplace_back(v.first, k);
  std::sort(order.rbegin(), order.rend());
  std::printf("PROFILE step %.3f s; operator self time:\n", total_s);
  for (size_t i = 0; i < order.size() && i < 40; ++i)
    std::printf("PROFILE %10.1f ms %5.1f%% %7lld calls  %s\n", order[i].first / 1e3,
                100.0 * order[i].first / 1e6 / total_s, (long long)self[order[i].second].second,
                order[i].second.c_str());
}

// One configuration; prints "RESULT key=value ..." for the parent.
void run_child(const Options& o) {
  at::set_num_threads(o.threads);
  const T5Config c = small_config(o.dropout);
  auto model = std::make_shared<T5Model>(c);
  init_t5_weights(*model, 0);
  FidReader reader(model);
  Batch x = make_batch(o, c.vocab_size);
  const bool bf16 = o.precision == "bf16";
  std::map<std::string, double> r;
  if (o.child == "train") {
    model->train();
    model->set_gradient_checkpointing(o.checkpoint);
    torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
    double total = 0, cpu = 0, loss = 0, fwd = 0, bwd = 0, upd = 0;
    for (int s = 0; s < o.warmup + o.steps; ++s) {
      std::unique_ptr<torch::autograd::profiler::TLSLegacyProfilerGuard> prof;
      const double t0 = now(), c0 = cpu_seconds();
      if (o.profile && s == o.warmup)
        prof = std::make_unique<torch::autograd::profiler::TLSLegacyProfilerGuard>(
            torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU),
            [t0](const torch::autograd::profiler::thread_event_lists& l) { print_profile(l, now() - t0); });
      opt.zero_grad();
      at::Tensor l;
      {
        Autocast ac(bf16);
        l = reader.forward(x.ids, x.mask, x.labels).loss;
      }
      const double t1 = now();
      l.backward();
      const double t2 = now();
      opt.step();
      const double t3 = now();
      if (s >= o.warmup) {
        total += t3 - t0;
        cpu += cpu_seconds() - c0;
        fwd += t1 - t0, bwd += t2 - t1, upd += t3 - t2;
      }
      loss = l.item<double>();
    }
    r["seconds"] = total / o.steps;
    r["cpu_seconds"] = cpu / o.steps;
    r["forward"] = fwd / o.steps;
    r["backward"] = bwd / o.steps;
    r["optimizer"] = upd / o.steps;
    r["flops"] = 3 * forward_flops(c, o.b, o.n, o.l, o.t);
    r["loss"] = loss;
  } else if (o.child == "generate") {
    model->eval();
    double total = 0, cpu = 0, len = 0;
    for (int s = 0; s < o.warmup + o.steps; ++s) {
      const double t0 = now(), c0 = cpu_seconds();
      Autocast ac(bf16);
      FidGeneration g = reader.generate(x.ids, x.mask, o.gen_length);
      if (s >= o.warmup) total += now() - t0, cpu += cpu_seconds() - c0;
      len = static_cast<double>(g.ids.size(1));
    }
    r["seconds"] = total / o.steps;
    r["cpu_seconds"] = cpu / o.steps;
    r["length"] = len;
    // Encoder and cross K/V once, then one 1-token decoder pass per step.
    const double base = forward_flops(c, o.b, o.n, o.l, 0);
    const double f = base + (len - 1) * (forward_flops(c, o.b, o.n, o.l, 1) - base);
    r["flops"] = f;
  } else {  // compare: bf16 vs fp32 logits and loss on the same weights
    model->eval();
    at::NoGradGuard ng;
    FidOutput a = reader.forward(x.ids, x.mask, x.labels);
    FidOutput b;
    {
      Autocast ac(true);
      b = reader.forward(x.ids, x.mask, x.labels);
    }
    r["loss_fp32"] = a.loss.item<double>();
    r["loss_bf16"] = b.loss.item<double>();
    r["logit_max_diff"] = (a.logits - b.logits.to(at::kFloat)).abs().max().item<double>();
    r["logit_mean_diff"] = (a.logits - b.logits.to(at::kFloat)).abs().mean().item<double>();
    r["logit_max_abs"] = a.logits.abs().max().item<double>();
  }
  r["peak_rss_mb"] = fid::peak_rss_bytes() / 1048576.0;
  std::printf("RESULT");
  for (auto& [k, v] : r) std::printf(" %s=%.6g", k.c_str(), v);
  std::printf("\n");
}

std::map<std::string, double> spawn(const std::string& self, const Options& o, const std::string& args) {
  const std::string cmd = self + " --threads " + std::to_string(o.threads) + " --steps " + std::to_string(o.steps) +
                          " --gen_length " + std::to_string(o.gen_length) +
                          " --dropout " + std::to_string(o.dropout) + " " + args;
  FILE* p = popen(cmd.c_str(), "r");
  std::map<std::string, double> r;
  char line[4096];
  while (p && std::fgets(line, sizeof line, p)) {
    std::string s(line);
    if (s.rfind("RESULT", 0) != 0) {
      std::fputs(line, stderr);
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
    else if (k == "--steps") o.steps = std::atoi(v.c_str());
    else if (k == "--gen_length") o.gen_length = std::atoll(v.c_str());
    else if (k == "--child") o.child = v;
    else if (k == "--precision") o.precision = v;
    else if (k == "--checkpoint") o.checkpoint = v == "1";
    else if (k == "--force_bf16") o.force_bf16 = v == "1";
    else if (k == "--dropout") o.dropout = std::atof(v.c_str());
    else if (k == "--only") o.only = v;
    else if (k == "--profile") o.profile = v == "1";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.child == "probe") {  // build facts behind the bf16 figures
    at::set_num_threads(o.threads);
    std::printf("%s\nmkldnn enabled by user: %d\n", at::show_config().c_str(),
                (int)at::globalContext().userEnabledMkldnn());
    for (int64_t n : {256, 1024, 2048})
      std::printf("matmul %lld: fp32 %.1f bf16 %.1f GFLOP/s\n", (long long)n, matmul_gflops(at::kFloat, n, 3),
                  matmul_gflops(at::kBFloat16, n, 3));
    return 0;
  }
  if (!o.child.empty()) {
    run_child(o);
    return 0;
  }
  at::set_num_threads(o.threads);
  fid::warn_if_reference_blas();
  const MatmulRate r32 = matmul_rate(at::kFloat, 2048, 5, o.threads);
  const MatmulRate r16 = matmul_rate(at::kBFloat16, 2048, 2, o.threads);
  const double mm32 = r32.wall, mm16 = r16.wall;
  std::printf("threads %d; matmul 2048^3: fp32 %.1f GFLOP/s (by CPU time %.1f), bf16 %.1f GFLOP/s (by CPU time %.1f)\n",
              o.threads, mm32, r32.cpu, mm16, r16.cpu);
  std::printf("t5-small FiD, B=1 N=%lld L=%lld, target %lld tokens, %d timed steps after %d warm-up\n",
              (long long)o.n, (long long)o.l, (long long)o.t, o.steps, o.warmup);
  std::printf("%-28s %9s %9s %7s %10s %s\n", "configuration", "seconds", "GFLOP/s", "ratio", "peakRSS_MB", "extra");
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
  // Without AVX512-BF16 LibTorch's bf16 matmul falls back to a scalar kernel
  // (measured 2-3 GFLOP/s): timing bf16 there only measures that fallback.
  const bool time_bf16 = o.force_bf16 || mm16 >= mm32;
  if (!time_bf16)
    std::printf("bf16 timings skipped: this CPU's bf16 matmul (%.1f GFLOP/s) is slower than fp32 (%.1f); "
                "--force_bf16 1 runs them anyway\n", mm16, mm32);
  for (const auto& c : cfgs) {
    if (c.bf16 && !time_bf16) continue;
    if (!o.only.empty() && std::string(c.name).find(o.only) == std::string::npos) continue;
    auto r = spawn(self, o, c.args);
    if (r.empty()) {
      std::printf("%-28s failed\n", c.name);
      continue;
    }
    const double gf = r["flops"] / r["seconds"] / 1e9;
    std::printf("%-28s %9.3f %9.1f %7.3f %10.0f", c.name, r["seconds"], gf, gf / (c.bf16 ? mm16 : mm32),
                r["peak_rss_mb"]);
    std::printf(" cpu/threads %.3f s (ratio %.3f)", r["cpu_seconds"] / o.threads,
                r["flops"] / (r["cpu_seconds"] / o.threads) / 1e9 / (c.bf16 ? r16.cpu : r32.cpu));
    if (r.count("forward"))
      std::printf(" fwd %.2f bwd %.2f opt %.2f", r["forward"], r["backward"], r["optimizer"]);
    if (r.count("loss")) std::printf(" loss %.4f", r["loss"]);
    if (r.count("length")) std::printf(" length %.0f", r["length"]);
    std::printf("\n");
    std::fflush(stdout);
  }
  if (!o.only.empty()) return 0;
  auto d = spawn(self, o, "--child compare");
  std::printf("bf16 vs fp32 (eval, same weights): loss %.5f vs %.5f (diff %.2e), logits max |diff| %.3g "
              "(mean %.3g, max |logit| %.3g)\n",
              d["loss_bf16"], d["loss_fp32"], std::abs(d["loss_bf16"] - d["loss_fp32"]), d["logit_max_diff"],
              d["logit_mean_diff"], d["logit_max_abs"]);
  return 0;
}
