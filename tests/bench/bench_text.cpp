// Tokenizer throughput: 100,000 synthetic passages of 100 words, tokenized
// with the T5 sentencepiece tokenizer (fixture spiece.model) and the BERT
// WordPiece tokenizer (fixture vocab.txt), on one thread and on all threads.
// Prints passages/s. Usage: bench_text [passages] [words] [threads]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "support/test_util.h"
#include "text/bert_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace {

using fid::text::BertTokenizer;
using fid::text::T5Tokenizer;

// Fixtures through the tests' helper ($FID_FIXTURES, else the source tree);
// only its library part is linked in, main() is ours.
using fid::testing::fixtures_dir;

// English-like text: Zipf-distributed words built from syllables, sentence
// capitals, commas and full stops, a few numbers and accented words.
std::vector<std::string> make_passages(size_t count, int words, uint64_t seed) {
  const char* syllables[] = {"the", "con", "pro", "li", "cen", "se", "gram", "dis", "tri", "bu", "tion",
                             "war", "ran", "ty", "ma", "ter", "in", "for", "ex", "per", "mit", "ted",
                             "a", "o", "re", "ci", "pi", "ent", "ca", "fé", "na", "ïve", "al", "ly"};
  std::mt19937_64 rng(seed);
  std::vector<std::string> pool;
  std::uniform_int_distribution<int> nsyl(1, 4), syl(0, static_cast<int>(std::size(syllables)) - 1);
  for (int i = 0; i < 8000; ++i) {
    std::string w;
    for (int k = nsyl(rng); k > 0; --k) w += syllables[syl(rng)];
    pool.push_back(w);
  }
  std::vector<double> weights(pool.size());
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<size_t> zipf(weights.begin(), weights.end());
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<std::string> passages(count);
  for (std::string& p : passages) {
    bool sentence_start = true;
    for (int w = 0; w < words; ++w) {
      std::string word = pct(rng) < 2 ? std::to_string(pct(rng) * 37) : pool[zipf(rng)];
      if (sentence_start && word[0] >= 'a' && word[0] <= 'z') word[0] = static_cast<char>(word[0] - 32);
      sentence_start = false;
      if (!p.empty()) p += ' ';
      p += word;
      int r = pct(rng);
      if (r < 6) p += ',';
      else if (r < 12 || w == words - 1) { p += '.'; sentence_start = true; }
    }
  }
  return passages;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Result {
  double wall_rate;  // passages per wall-clock second
  double cpu_rate;   // passages per CPU-second of the tokenizing threads
  size_t tokens;
};

// Runs encode over all passages split into `threads` contiguous parts. The
// CPU-time rate is what one core delivers even on a machine shared with
// other work, where the wall-clock rate understates it.
Result run(const std::vector<std::string>& passages, int threads,
           const std::function<size_t(const std::string&)>& encode) {
  std::vector<size_t> tokens(static_cast<size_t>(threads), 0);
  std::vector<double> cpu(static_cast<size_t>(threads), 0.0);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  size_t per = (passages.size() + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      double c0 = thread_cpu_seconds();
      size_t b = static_cast<size_t>(t) * per, e = std::min(passages.size(), b + per);
      for (size_t i = b; i < e; ++i) tokens[static_cast<size_t>(t)] += encode(passages[i]);
      cpu[static_cast<size_t>(t)] = thread_cpu_seconds() - c0;
    });
  }
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t total = 0;
  for (size_t n : tokens) total += n;
  double cpu_total = 0;
  for (double c : cpu) cpu_total += c;
  double n = static_cast<double>(passages.size());
  return {n / secs, n / cpu_total, total};
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  int words = argc > 2 ? std::atoi(argv[2]) : 100;
  int all = argc > 3 ? std::atoi(argv[3]) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> passages = make_passages(count, words, 42);
  size_t bytes = 0;
  for (const auto& p : passages) bytes += p.size();
  std::printf("%zu passages of %d words (%.0f bytes each on average), %d hardware threads\n", count, words,
              static_cast<double>(bytes) / static_cast<double>(count), all);

  T5Tokenizer t5 = T5Tokenizer::load(fid::join_path(fixtures_dir(), "t5_tokenizer"));
  BertTokenizer bert = BertTokenizer::load(fid::join_path(fixtures_dir(), "bert"));
  struct Case {
    const char* name;
    std::function<size_t(const std::string&)> encode;
  };
  std::vector<Case> cases = {
      {"sentencepiece (T5, fixture spiece.model)", [&](const std::string& p) { return t5.encode(p).size(); }},
      // One sentencepiece call per passage, no word cache: the floor for
      // text whose words rarely repeat.
      {"sentencepiece, no word cache", [&](const std::string& p) { return t5.model().encode(p).size(); }},
      {"WordPiece (BERT uncased, fixture vocab.txt)", [&](const std::string& p) { return bert.encode(p).ids.size(); }},
  };
  for (const Case& c : cases) {
    run(std::vector<std::string>(passages.begin(), passages.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(count, 2000))),
        1, c.encode);  // warm-up
    std::vector<int> thread_counts = {1};
    if (all > 1) thread_counts.push_back(all);
    for (int threads : thread_counts) {
      Result r = run(passages, threads, c.encode);
      std::printf("%-44s threads %2d: %8.0f passages/s wall (%7.0f per thread), %7.0f per CPU-second, "
                  "%.1f tokens/passage\n",
                  c.name, threads, r.wall_rate, r.wall_rate / threads, r.cpu_rate,
                  static_cast<double>(r.tokens) / static_cast<double>(count));
    }
  }
  return 0;
}
