// Every command of FiD's README (a copy: tests/data/seed/FiD-README.md) that
// names a script `fid` replaces runs with `fid <subcommand>` in place of
// `python <script>.py`, nothing else changed but the README's placeholders
// (<train_data.json>, my_model_path, an empty --output_path) filled with this
// workspace's files. Pretrained t5-base and bert-base-uncased come from a
// Hugging Face cache made here (tiny models under those names, t5-base
// sharded), as FiD's `--model_size base` and train_retriever.py's default
// load them. The commands run in order, each on the previous one's output:
// train, test, scores, retriever, embeddings, retrieval.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "data/example_reader.h"
#include "data/example_writer.h"
#include "support/hf_cache.h"
#include "support/workspace.h"

namespace fid::testing {
namespace {

struct SeedCommand {
  std::string script;  // "train.py"
  std::vector<std::string> args;
};

// The README's `python <script>.py \ ...` blocks: continuation lines joined,
// `#` comments dropped, arguments split on blanks (quotes removed).
std::vector<SeedCommand> readme_commands(const std::string& readme) {
  std::vector<SeedCommand> out;
  std::istringstream in(readme);
  bool in_block = false;
  SeedCommand* cur = nullptr;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) {
      in_block = !in_block;
      cur = nullptr;
      continue;
    }
    if (!in_block) continue;
    const size_t hash = line.find(" #");
    if (hash != std::string::npos) line = line.substr(0, hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) {
      if (x == "\\") continue;
      if (x.size() > 1 && x.front() == '"' && x.back() == '"') x = x.substr(1, x.size() - 2);
      w.push_back(x);
    }
    if (!w.empty() && (w[0] == "python" || w[0] == "python3")) {
      out.push_back({w.at(1), {}});
      cur = &out.back();
      w.erase(w.begin(), w.begin() + 2);
    }
    if (cur) cur->args.insert(cur->args.end(), w.begin(), w.end());
  }
  return out;
}

const std::map<std::string, std::string> kSubcommand = {
    {"train.py", "train-reader"},       {"test.py", "test-reader"},
    {"train_retriever.py", "train-retriever"}, {"generate_retriever_embedding.py", "embed-passages"},
    {"index_retrieval.py", "retrieve"}};

class SeedReadmeWorkspace : public Workspace {
 public:
  SeedReadmeWorkspace() : Workspace("fid-seed-readme") {
    synth_data(110);
    tiny_t5("t5", 3);
    add_to_hub_cache(path("hub"), "t5-base", path("t5"), /*sharded=*/true);
    // BERT-base's 512 positions (the README's retriever reads 200 tokens), WordPiece.
    fid_ok(1, "init-model --arch bert --tokenizer " + fixtures_dir() + "/bert/vocab.txt --hidden_size 32 "
              "--num_hidden_layers 2 --num_attention_heads 4 --intermediate_size 64 "
              "--max_position_embeddings 512 --seed 5 --output_dir " + path("bert"));
    add_to_hub_cache(path("hub"), "bert-base-uncased", path("bert"), false);
    // 100 ctxs per question (the README's --n_context): the asked person's
    // passage first, then others.
    const std::vector<data::Passage> all = read_passages(passages());
    for (const char* split : {"train", "dev"}) {
      auto exs = data::read_examples(path(std::string("data/") + split + ".json"));
      exs.resize(std::min<size_t>(exs.size(), 40));
      for (size_t i = 0; i < exs.size(); ++i) {
        for (size_t j = 0; j < 100; ++j) {
          const auto& p = all[(i * 7 + j) % all.size()];
          data::Context c;
          c.id = p.id;
          c.title = p.title;
          c.text = p.text;
          exs[i].ctxs.push_back(c);
        }
      }
      data::write_examples(path(std::string(split) + ".json"), exs, data::DatasetFormat::kJsonArray);
    }
  }
  // The README's placeholders, filled; an empty --output_path gets `empty_output`.
  std::string command(const SeedCommand& c, const std::string& empty_output) const {
    static const std::map<std::string, std::string> fill = {
        {"<train_data.json>", "train.json"},
        {"<eval_data.json>", "dev.json"},
        {"<my_model_path>", "checkpoint/my_experiment/checkpoint/latest"},
        {"my_model_path", "checkpoint/my_experiment/checkpoint/latest"},
        {"<my_test_data.json>", "dev.json"},
        {"my_test_data.json", "dev.json"},
        {"<path>", "checkpoint/my_test/dataset_wscores.json"},
        {"<model_path>", "checkpoint/experiment_name/checkpoint/latest"},
        {"<passages.tsv>", "data/passages.tsv"},
        {"<data_path>", "dev.json"},
        {"<output_path>", "retrieved.json"}};
    // Run from dir() (the test changes into it): the README's relative paths.
    std::string cmd = "HF_HUB_CACHE=" + path("hub") + " " + fid_binary() + " " + kSubcommand.at(c.script) +
                      " --threads 1";
    for (size_t i = 0; i < c.args.size(); ++i) {
      cmd += " '" + (fill.count(c.args[i]) ? fill.at(c.args[i]) : c.args[i]) + "'";
      const bool empty_value = c.args[i] == "--output_path" &&
                               (i + 1 == c.args.size() || c.args[i + 1].rfind("--", 0) == 0);
      if (empty_value) cmd += " '" + empty_output + "'";
    }
    return cmd;
  }
};

TEST(SeedReadme, EveryCommandRunsWithTheProgramNameChanged) {
  SeedReadmeWorkspace ws;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(ws.dir());
  const std::vector<SeedCommand> cmds = readme_commands(read_file(test_data_dir() + "/seed/FiD-README.md"));
  std::vector<std::string> scripts;
  for (const auto& c : cmds) scripts.push_back(c.script);
  ASSERT_EQ(scripts, (std::vector<std::string>{"train.py", "test.py", "test.py", "train_retriever.py",
                                               "generate_retriever_embedding.py", "index_retrieval.py"}));
  // The two trainings run as written (1,000 and 20,000 steps: ten minutes
  // and an hour here) until their first logged steps; then the scheduler's
  // signal stops them with a checkpoint (exit 75, as under SLURM) that the
  // next commands read as `latest`.
  const std::map<std::string, std::string> stopped = {{"train.py", "my_experiment"},
                                                      {"train_retriever.py", "experiment_name"}};
  for (const auto& c : cmds) {
    SCOPED_TRACE(c.script);
    const std::string cmd = ws.command(c, "wikipedia_embeddings/wiki");
    if (!stopped.count(c.script)) {
      run_ok(cmd);
      continue;
    }
    Background job(cmd, ws.path(c.script + ".log"));
    const std::string metrics = ws.path("checkpoint/" + stopped.at(c.script) + "/metrics.jsonl");
    for (int waited = 0; !path_exists(metrics) || read_file(metrics).find("\"step\":3}") == std::string::npos;
         ++waited) {
      ASSERT_FALSE(job.exited(0)) << job.log();
      ASSERT_LT(waited, 3000) << "three training steps not logged in 300 s\n" << job.log();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(job.pid(), SIGUSR1);
    ASSERT_TRUE(job.exited(300)) << job.log();
    ASSERT_TRUE(WIFEXITED(job.status())) << job.log();
    EXPECT_EQ(WEXITSTATUS(job.status()), 75) << job.log();
  }
  // What each command made, in the README's order.
  EXPECT_TRUE(path_exists(ws.path("checkpoint/my_experiment/checkpoint/latest/model.safetensors")));
  EXPECT_TRUE(path_exists(ws.path("checkpoint/my_test/dataset_wscores.json")));
  auto scored = data::read_examples(ws.path("checkpoint/my_test/dataset_wscores.json"));
  ASSERT_FALSE(scored.empty());
  EXPECT_EQ(scored[0].ctxs.size(), 100u);
  EXPECT_EQ(scored[0].ctxs[0].score_origin, data::kReaderScoreOrigin);
  EXPECT_TRUE(path_exists(ws.path("checkpoint/experiment_name/checkpoint/latest/config.json")));
  const auto cfg = read_json_file(ws.path("checkpoint/experiment_name/checkpoint/latest/config.json"));
  EXPECT_EQ(cfg["indexing_dimension"].get<int>(), 768);  // FiD's default head on bert-base-uncased
  EXPECT_EQ(cfg["question_maxlength"].get<int>(), 40);
  EXPECT_TRUE(path_exists(ws.path("wikipedia_embeddings/wiki_00000.h5")));
  auto retrieved = data::read_examples(ws.path("retrieved.json"));
  ASSERT_EQ(retrieved.size(), 40u);
  EXPECT_EQ(retrieved[0].ctxs.size(), 100u);
  std::filesystem::current_path(cwd);
}

}  // namespace
}  // namespace fid::testing
