// bench_data: read throughput and peak memory of the data readers.
// Generates FiD datasets (JSON lines of two sizes and a JSON list) and a DPR
// passages TSV in a scratch directory, then measures each read in a fresh
// child process (this program with --measure), so that the peak RSS it
// reports is that of the reader alone, not of the generation.
//
//   bench_data [--dir D] [--jsonl-mb 1000] [--small-mb 250] [--tsv-mb 1000] [--keep]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/system.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "data/passages.h"

namespace {
using namespace fid::data;

// A fast deterministic word salad with some quotes, backslashes and
// non-ASCII text, so that escaping and unquoting are exercised.
class TextGen {
 public:
  explicit TextGen(uint64_t seed) : rng_(seed) {
    const char* syl[] = {"ka", "lo", "mi", "ren", "sa", "tor", "vel", "qu", "an", "ber", "dé", "ly"};
    for (int i = 0; i < 4096; ++i) {
      std::string w;
      const int n = 1 + static_cast<int>(rng_() % 4);
      for (int k = 0; k < n; ++k) w += syl[rng_() % 12];
      if (i % 97 == 0) w = "\"" + w + "\"";
      if (i % 331 == 0) w += "\\";
      words_.push_back(w);
    }
  }
  std::string text(size_t min_len, size_t max_len) {
    const size_t len = min_len + rng_() % (max_len - min_len + 1);
    std::string s;
    s.reserve(len + 16);
    while (s.size() < len) {
      if (!s.empty()) s += ' ';
      s += words_[rng_() % words_.size()];
    }
    return s;
  }
  uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> words_;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Writes FiD examples with 10 ctxs each until the file reaches `mb` MB.
int64_t generate_dataset(const std::string& path, DatasetFormat format, int64_t mb, uint64_t seed) {
  TextGen gen(seed);
  ExampleWriter writer(path, format);
  Example ex;
  int64_t bytes = 0;
  for (int64_t i = 0; bytes < mb * 1000000; ++i) {
    ex.id = "q" + std::to_string(i);
    ex.question = gen.text(30, 90) + "?";
    ex.target = gen.text(5, 20);
    ex.has_target = true;
    ex.answers = {ex.target, gen.text(5, 20)};
    ex.ctxs.resize(10);
    for (int j = 0; j < 10; ++j) {
      Context& c = ex.ctxs[j];
      c.id = std::to_string(gen.next() % 21000000);
      c.title = gen.text(5, 30);
      c.text = gen.text(450, 750);  // DPR passages are 100 words
      c.has_score = true;
      c.score = static_cast<double>(gen.next() % 100000) / 997.0;
      c.hasanswer = static_cast<int>(gen.next() % 2);
    }
    bytes += static_cast<int64_t>(example_to_json(ex).size()) + 2;
    writer.write(ex);
  }
  writer.close();
  return writer.count();
}

int64_t generate_passages(const std::string& path, int64_t mb, uint64_t seed) {
  TextGen gen(seed);
  PassageWriter writer(path);
  Passage p;
  int64_t bytes = 0;
  for (int64_t i = 1; bytes < mb * 1000000; ++i) {
    p.id = std::to_string(i);
    p.text = gen.text(450, 750);
    p.title = gen.text(5, 30);
    bytes += static_cast<int64_t>(p.id.size() + p.text.size() + p.title.size()) + 3;
    writer.write(p);
  }
  writer.close();
  return writer.count();
}

// --measure MODE PATH: one measurement; prints "items seconds cpu peak_rss".
int measure(const std::string& mode, const std::string& path) {
  const double t0 = now(), c0 = cpu_seconds();
  int64_t items = 0, check = 0;
  if (mode == "examples") {
    ExampleReader reader(path);
    Example ex;
    while (reader.next(ex)) {
      ++items;
      for (const auto& c : ex.ctxs) check += static_cast<int64_t>(c.text.size());
    }
  } else if (mode == "count") {
    items = count_examples(path);
  } else if (mode == "index") {
    std::filesystem::remove(path + ".fidx");
    PassageStore store(path);
    items = store.size();
  } else if (mode == "passages") {
    PassageReader reader(path);
    Passage p;
    while (reader.next(p)) {
      ++items;
      check += static_cast<int64_t>(p.text.size());
    }
  } else if (mode == "lookup") {
    PassageStore store(path);  // the index saved by the "index" run is loaded
    std::mt19937_64 rng(7);
    Passage p;
    for (; items < 200000; ++items) {
      store.find(std::to_string(1 + rng() % static_cast<uint64_t>(store.size())), p);
      check += static_cast<int64_t>(p.text.size());
    }
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  std::printf("%lld %.6f %.6f %lld %lld\n", static_cast<long long>(items), now() - t0,
              cpu_seconds() - c0, static_cast<long long>(fid::peak_rss_bytes()),
              static_cast<long long>(check));
  return 0;
}

struct Result {
  long long items = 0;
  double seconds = 0, cpu = 0;
  long long rss = 0;
};

Result run_child(const std::string& self, const std::string& mode, const std::string& path) {
  const std::string cmd = "'" + self + "' --measure " + mode + " '" + path + "' 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  Result r;
  long long check = 0;
  if (pipe == nullptr || std::fscanf(pipe, "%lld %lf %lf %lld %lld", &r.items, &r.seconds, &r.cpu,
                                     &r.rss, &check) != 5) {
    std::fprintf(stderr, "measurement %s of %s failed\n", mode.c_str(), path.c_str());
    std::exit(1);
  }
  pclose(pipe);
  return r;
}

void report(const char* what, const std::string& path, const Result& r, const char* unit) {
  const double mb = static_cast<double>(fid::file_size(path)) / 1e6;
  std::printf("%-28s %9.1f %8.2f %9.1f %12.1f %10lld %-9s %9.1f\n", what, mb, r.seconds,
              mb / r.seconds, mb / r.cpu, r.items, unit, static_cast<double>(r.rss) / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--measure") == 0) return measure(argv[2], argv[3]);
  std::string base = std::filesystem::temp_directory_path().string();
  int64_t big_mb = 1000, small_mb = 250, tsv_mb = 1000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return std::string(argv[++i]);
    };
    if (a == "--dir") base = value();
    else if (a == "--jsonl-mb") big_mb = std::stoll(value());
    else if (a == "--small-mb") small_mb = std::stoll(value());
    else if (a == "--tsv-mb") tsv_mb = std::stoll(value());
    else if (a == "--keep") keep = true;
    else { std::fprintf(stderr, "usage: %s [--dir D] [--jsonl-mb N] [--small-mb N] [--tsv-mb N] [--keep]\n", argv[0]); return 2; }
  }
  std::string dir = base + "/fid-bench-data-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) { std::perror("mkdtemp"); return 1; }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string small = dir + "/small.jsonl", big = dir + "/big.jsonl";
  const std::string list = dir + "/small_list.json", tsv = dir + "/psgs.tsv";

  std::printf("generating data in %s ...\n", dir.c_str());
  double t = now();
  const int64_t n_big = generate_dataset(big, DatasetFormat::kJsonLines, big_mb, 1);
  std::printf("  %s: %lld examples, %.1f MB, written at %.1f MB/s\n", big.c_str(), static_cast<long long>(n_big),
              fid::file_size(big) / 1e6, fid::file_size(big) / 1e6 / (now() - t));
  generate_dataset(small, DatasetFormat::kJsonLines, small_mb, 2);
  generate_dataset(list, DatasetFormat::kJsonArray, small_mb, 3);
  t = now();
  const int64_t n_psg = generate_passages(tsv, tsv_mb, 4);
  std::printf("  %s: %lld passages, %.1f MB, written at %.1f MB/s\n", tsv.c_str(), static_cast<long long>(n_psg),
              fid::file_size(tsv) / 1e6, fid::file_size(tsv) / 1e6 / (now() - t));

  std::printf("\nEach row is a fresh process reading from the page cache; MB/s per CPU-s\n"
              "divides by the process's CPU time (the per-core rate; one thread).\n");
  std::printf("%-28s %9s %8s %9s %12s %10s %-9s %9s\n", "read", "MB", "seconds", "MB/s", "MB/s/CPU-s",
              "items", "", "peak RSS MB");
  const Result r_small = run_child(self, "examples", small);
  report("FiD JSONL examples", small, r_small, "examples");
  const Result r_big = run_child(self, "examples", big);
  report("FiD JSONL examples", big, r_big, "examples");
  report("FiD JSON list examples", list, run_child(self, "examples", list), "examples");
  report("FiD JSONL count only", big, run_child(self, "count", big), "examples");
  const Result r_index = run_child(self, "index", tsv);
  report("passages TSV: build index", tsv, r_index, "passages");
  const Result r_seq = run_child(self, "passages", tsv);
  report("passages TSV: stream rows", tsv, r_seq, "passages");
  const Result r_get = run_child(self, "lookup", tsv);
  std::printf("%-28s %9s %8.2f %9s %12s %10lld %-9s %9.1f   (%.1f us per get, index loaded by mmap)\n",
              "passages TSV: random get(id)", "", r_get.seconds, "", "", r_get.items, "lookups",
              r_get.rss / 1e6, 1e6 * r_get.seconds / r_get.items);

  const double fs_small = fid::file_size(small) / 1e6, fs_big = fid::file_size(big) / 1e6;
  std::printf("\nJSONL peak RSS: %.1f MB for %.0f MB, %.1f MB for %.0f MB (x%.2f for x%.1f the data)\n",
              r_small.rss / 1e6, fs_small, r_big.rss / 1e6, fs_big,
              static_cast<double>(r_big.rss) / r_small.rss, fs_big / fs_small);
  const double worst = std::min({fs_big / r_big.cpu, fid::file_size(tsv) / 1e6 / r_seq.cpu,
                                 fid::file_size(tsv) / 1e6 / r_index.cpu});
  std::printf("goal >= 200 MB/s per core: slowest reader %.1f MB/s per CPU-s: %s\n", worst,
              worst >= 200 ? "met" : "NOT met");
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
