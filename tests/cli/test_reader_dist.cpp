// Data-parallel reader training and evaluation through `fid`, on 1 and 2
// ranks: equivalence of the distributed step, identical evaluation, a rank
// killed mid-run ending the job and the rerun resuming exactly, corrupted
// checkpoints refused, and bf16 autocast (--precision) tracking fp32.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "model/safetensors.h"
#include "text/metrics.h"
#include "cli/reader_workspace.h"

namespace fid::testing {
namespace {

ReaderWorkspace& workspace() {
  static ReaderWorkspace ws;
  return ws;
}

std::string checkpoint(const std::string& name, const std::string& tag) { return workspace().checkpoint(name, tag); }

double max_weight_difference(const std::string& a_dir, const std::string& b_dir) {
  auto a = model::read_safetensors(a_dir + "/model.safetensors");
  auto b = model::read_safetensors(b_dir + "/model.safetensors");
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [key, t] : a) {
    EXPECT_TRUE(b.count(key)) << key;
    if (!b.count(key)) continue;
    worst = std::max(worst, (t - b.at(key)).abs().max().item<double>());
  }
  return worst;
}

// step -> loss, the last record of each step in metrics.jsonl.
std::map<int64_t, double> losses(const std::string& name) {
  std::map<int64_t, double> out;
  std::istringstream in(read_file(workspace().path("ck/" + name + "/metrics.jsonl")));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

// id -> answers of the workspace's dev set.
std::map<std::string, std::vector<std::string>> dev_answers() {
  std::map<std::string, std::vector<std::string>> gold;
  std::istringstream dev(read_file(workspace().path("dev.jsonl")));
  for (std::string line; std::getline(dev, line);) {
    auto j = nlohmann::json::parse(line);
    gold[j["id"].get<std::string>()] = j["answers"].get<std::vector<std::string>>();
  }
  return gold;
}

TEST(ReaderDist, TwoRanksEqualOneRankWithDoubleBatchOrAccumulation) {
  auto& ws = workspace();
  const std::string common = "--total_steps 5 --save_freq 5 --eval_freq 1000 --dropout 0 --seed 1 ";
  run_ok(ws.train_command(2, "eq2", common + "--per_gpu_batch_size 1"));
  run_ok(ws.train_command(1, "eq1", common + "--per_gpu_batch_size 2"));
  // Accumulation: 5 optimizer steps of 2 micro-batches of 1. The seed counts
  // micro-batches in total_steps but optimizer steps in the schedule, so the
  // schedule's length is given explicitly.
  run_ok(ws.train_command(1, "eqacc", "--total_steps 10 --save_freq 10 --eval_freq 1000 "
                                         "--dropout 0 --seed 1 --per_gpu_batch_size 1 "
                                         "--accumulation_steps 2 --scheduler_steps 5"));
  const double d2 = max_weight_difference(checkpoint("eq2", "step-5"), checkpoint("eq1", "step-5"));
  EXPECT_LT(d2, 1e-5);
  // The weights moved: the comparison is not between two untouched models.
  EXPECT_GT(max_weight_difference(checkpoint("eq1", "step-5"), ws.path("t5")), 1e-4);
  auto l2 = losses("eq2"), l1 = losses("eq1");
  ASSERT_EQ(l2.size(), 5u);
  for (auto& [s, v] : l1) EXPECT_NEAR(v, l2[s], 1e-5) << "step " << s;
  EXPECT_LT(max_weight_difference(checkpoint("eqacc", "step-10"), checkpoint("eq1", "step-5")), 1e-5);
}

TEST(ReaderDist, TestReaderIdenticalOnOneAndTwoRanks) {
  auto& ws = workspace();
  run_ok(ws.train_command(1, "base", "--total_steps 4 --save_freq 4 --eval_freq 1000 --per_gpu_batch_size 2"));
  const std::string model = checkpoint("base", "step-4");
  const std::string opts = "--model_path " + model + " --per_gpu_batch_size 3 --write_results "
                           "--write_crossattention_scores";
  run_ok(ws.test_command(1, "eval1", opts));
  run_ok(ws.test_command(2, "eval2", opts));
  const std::string r1 = ws.path("ck/eval1/"), r2 = ws.path("ck/eval2/");
  EXPECT_EQ(read_file(r1 + "final_output.txt"), read_file(r2 + "final_output.txt"));
  auto m1 = read_json_file(r1 + "eval_metrics.json"), m2 = read_json_file(r2 + "eval_metrics.json");
  EXPECT_EQ(m1["exact_match"], m2["exact_match"]);
  EXPECT_EQ(m1["total"].get<int>(), 24);  // 15% of 160 synthetic questions
  // F1 beside EM: the mean SQuAD F1 of the written answers, on any number of ranks.
  {
    const auto gold = dev_answers();
    std::istringstream answers(read_file(r1 + "final_output.txt"));
    double sum = 0;
    int n = 0;
    for (std::string line; std::getline(answers, line); ++n) {
      const size_t tab = line.find('\t');
      sum += text::f1_score(line.substr(tab + 1), gold.at(line.substr(0, tab)));
    }
    ASSERT_EQ(n, 24);
    EXPECT_NEAR(m1["f1"].get<double>(), sum / n, 1e-12);
    EXPECT_NEAR(m2["f1"].get<double>(), sum / n, 1e-12);
  }
  // Scores: the same examples, in input order, holding only the n_context
  // passages the reader read (the two of three with the highest retrieval
  // score), each with the reader's score and its retrieval score kept apart.
  std::istringstream s1(read_file(r1 + "dataset_wscores.json")), s2(read_file(r2 + "dataset_wscores.json"));
  std::string a, b;
  int n = 0;
  while (std::getline(s1, a)) {
    ASSERT_TRUE(std::getline(s2, b));
    auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
    EXPECT_EQ(ja["id"], jb["id"]);
    ASSERT_EQ(ja["ctxs"].size(), 2u) << "the unread passage must not be ranked among the scored ones";
    for (int j = 0; j < 2; ++j) {
      EXPECT_NEAR(ja["ctxs"][j]["score"].get<double>(), jb["ctxs"][j]["score"].get<double>(), 1e-6);
      EXPECT_NE(ja["ctxs"][j]["score"].get<double>(), 3.0 - j);  // replaced
      EXPECT_EQ(ja["ctxs"][j]["retrieval_score"].get<double>(), 3.0 - j);
      EXPECT_EQ(ja["ctxs"][j]["score_origin"], "reader");
    }
    ++n;
  }
  EXPECT_EQ(n, 24);
}

// Beam search through test-reader: the same answers on one and two ranks,
// num_return_sequences answers per line (tab-separated, best first), and EM
// scored on the first. (Equality with Hugging Face's generate():
// tests/model/test_beam_search.cpp.)
TEST(ReaderDist, BeamSearchAnswersOnOneAndTwoRanks) {
  auto& ws = workspace();
  run_ok(ws.train_command(1, "beam", "--total_steps 4 --save_freq 4 --eval_freq 1000 --per_gpu_batch_size 2"));
  const std::string opts = "--model_path " + checkpoint("beam", "step-4") +
                           " --per_gpu_batch_size 3 --write_results --num_beams 3 --num_return_sequences 2 "
                           "--length_penalty 0.8 --max_length 12";
  run_ok(ws.test_command(1, "beam1", opts));
  run_ok(ws.test_command(2, "beam2", opts));
  const std::string out1 = read_file(ws.path("ck/beam1/final_output.txt"));
  EXPECT_EQ(out1, read_file(ws.path("ck/beam2/final_output.txt")));
  const auto gold = dev_answers();
  std::istringstream answers(out1);
  int n = 0;
  double em = 0;
  for (std::string line; std::getline(answers, line); ++n) {
    std::vector<std::string> fields;
    std::istringstream f(line);
    for (std::string x; std::getline(f, x, '\t');) fields.push_back(x);
    ASSERT_EQ(fields.size(), 3u) << line;
    em += text::ems(fields[1], gold.at(fields[0])) ? 1 : 0;
  }
  ASSERT_EQ(n, 24);
  auto m = read_json_file(ws.path("ck/beam1/eval_metrics.json"));
  EXPECT_NEAR(m["exact_match"].get<double>(), em / n, 1e-12);
  // More answers than beams is refused, naming the option.
  std::string too_many = opts;
  too_many.replace(too_many.find("--num_return_sequences 2"), 24, "--num_return_sequences 4");
  const std::string bad = run_fails(ws.test_command(1, "beam3", too_many));
  EXPECT_NE(bad.find("--num_return_sequences must be between 1 and --num_beams (3), got 4"), std::string::npos)
      << bad;
}

TEST(ReaderDist, KilledRankEndsJobAndRerunResumesExactly) {
  auto& ws = workspace();
  const std::string opts = "--total_steps 16 --save_freq 2 --eval_freq 1000 --dropout 0.1 --seed 3 "
                           "--per_gpu_batch_size 1";
  run_ok(ws.train_command(2, "full", opts));
  const std::string cmd = ws.train_command(2, "killed", opts);
  // Each checkpoint (two renames) takes 500 ms more: the six still to come
  // after step 4 outlast the 100 ms poll and the kill on any machine, so the
  // rank always dies mid-run.
  const std::string slow_cmd = slow_io_env(250) + cmd;
  const std::string rc_file = ws.path("killed.rc");
  ASSERT_EQ(std::system(("(" + slow_cmd + " > " + ws.path("killed.log") + " 2>&1; echo $? > " + rc_file +
                         ") &").c_str()), 0);
  // Wait for a checkpoint, then SIGKILL one rank (a `fid` process, not mpiexec).
  const auto start = std::chrono::steady_clock::now();
  while (!path_exists(checkpoint("killed", "step-4"))) {
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(240)) << read_file(ws.path("killed.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string pids;
  run_command("pgrep -f '^" + fid_binary() + " train-reader .*--name killed'", &pids);
  ASSERT_FALSE(pids.empty());
  const std::string victim = pids.substr(0, pids.find('\n'));
  ASSERT_EQ(run_command("kill -9 " + victim), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  while (!path_exists(rc_file) || read_file(rc_file).empty()) {
    ASSERT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::seconds(30))
        << "the job did not end within 30 s of a rank's death";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(std::stoi(read_file(rc_file)), 0);
  const bool finished_before_kill = path_exists(checkpoint("killed", "step-16"));
  ASSERT_FALSE(finished_before_kill) << "the run ended before the kill; nothing was tested";

  // The same command again resumes from `latest` and finishes.
  std::string out = run_ok(cmd);
  EXPECT_NE(out.find("resuming"), std::string::npos) << out;
  auto full = losses("full"), resumed = losses("killed");
  ASSERT_EQ(full.size(), 16u);
  ASSERT_EQ(resumed.size(), 16u);
  for (auto& [s, v] : full) EXPECT_NEAR(resumed[s], v, 1e-6) << "step " << s;
  EXPECT_LT(max_weight_difference(checkpoint("killed", "step-16"), checkpoint("full", "step-16")), 1e-6);
}

TEST(ReaderDist, CorruptedCheckpointIsRefusedNamingTheFile) {
  auto& ws = workspace();
  run_ok(ws.train_command(1, "corrupt", "--total_steps 2 --save_freq 2 --eval_freq 1000"));
  const std::string weights = checkpoint("corrupt", "step-2") + "/model.safetensors";
  std::string bytes = read_file(weights);
  bytes[bytes.size() - 3] ^= 0x10;
  write_text(weights, bytes);
  std::string out;
  EXPECT_NE(run_command(ws.train_command(1, "corrupt", "--total_steps 4 --save_freq 2 --eval_freq 1000"), &out), 0);
  EXPECT_NE(out.find("model.safetensors"), std::string::npos) << out;
  EXPECT_NE(out.find("corrupted"), std::string::npos) << out;
  std::filesystem::resize_file(weights, bytes.size() / 2);
  EXPECT_NE(run_command(ws.train_command(1, "corrupt", "--total_steps 4 --save_freq 2 --eval_freq 1000"), &out), 0);
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::testing

namespace fid::testing {
namespace {

std::vector<double> first_ctx_scores(const std::string& run) {
  std::vector<double> out;
  std::istringstream in(read_file(workspace().path("ck/" + run + "/dataset_wscores.json")));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    for (int c = 0; c < 2; ++c) out.push_back(j["ctxs"][c]["score"].get<double>());
  }
  return out;
}

TEST(ReaderDist, Bf16PrecisionTracksFp32InTrainingAndEvaluation) {
  auto& ws = workspace();
  const std::string common = "--total_steps 3 --save_freq 3 --eval_freq 1000 --dropout 0 --seed 1 "
                             "--per_gpu_batch_size 2 ";
  run_ok(ws.train_command(1, "p32", common + "--precision fp32"));
  // bf16 with gradient checkpointing: the replayed forward runs under the
  // same autocast state.
  run_ok(ws.train_command(1, "p16", common + "--precision bf16 --use_checkpoint"));
  auto l32 = losses("p32"), l16 = losses("p16");
  ASSERT_EQ(l16.size(), 3u);
  for (auto& [s, v] : l32) {
    // bf16 products (8 mantissa bits) move the loss a little, never a lot.
    EXPECT_NEAR(l16[s], v, 0.005 * v) << "step " << s;
  }
  EXPECT_NE(l16[1], l32[1]);  // the products really ran in bf16
  EXPECT_LT(max_weight_difference(checkpoint("p16", "step-3"), checkpoint("p32", "step-3")), 1e-2);

  const std::string opts = "--model_path " + checkpoint("p32", "step-3") +
                           " --per_gpu_batch_size 4 --write_crossattention_scores ";
  run_ok(ws.test_command(1, "t32", opts + "--precision fp32"));
  run_ok(ws.test_command(1, "t16", opts + "--precision bf16"));
  EXPECT_EQ(read_json_file(ws.path("ck/t16/eval_metrics.json"))["precision"], "bf16");
  EXPECT_EQ(read_json_file(ws.path("ck/t32/eval_metrics.json"))["precision"], "fp32");
  auto s32 = first_ctx_scores("t32"), s16 = first_ctx_scores("t16");
  ASSERT_EQ(s16.size(), s32.size());
  ASSERT_FALSE(s32.empty());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < s32.size(); ++i) {
    worst = std::max(worst, std::abs(s16[i] - s32[i]));
    scale = std::max(scale, std::abs(s32[i]));
  }
  EXPECT_GT(worst, 0.0);
  EXPECT_LT(worst, 0.05 * scale) << "largest |score| " << scale;

  std::string out;
  EXPECT_NE(run_command(ws.test_command(1, "tbad", opts + "--precision fp16"), &out), 0);
  EXPECT_NE(out.find("--precision"), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::testing

namespace fid::testing {
namespace {

// Span-corruption pretraining learns (its loss falls well below the start),
// resumes from its checkpoints like the other trainers, and what it writes is
// a reader that train-reader starts from.
TEST(ReaderDist, PretrainReaderLearnsAndItsModelTrainsAReader) {
  auto& ws = workspace();
  const std::string cmd = mpi_launch(2) + fid_binary() + " pretrain-reader --threads 1 --passages " +
                          ws.path("data/passages.tsv") + " --model_path " + ws.path("t5") +
                          " --checkpoint_dir " + ws.path("ck") + " --name pre --text_maxlength 48 "
                          "--per_gpu_batch_size 4 --lr 5e-3 --optim adamw --dropout 0 --seed 2 "
                          "--save_freq 60 --eval_freq 1000 --total_steps 60";
  run_ok(cmd);
  auto l = losses("pre");
  ASSERT_EQ(l.size(), 60u);
  double first = 0, last = 0;
  for (int s = 1; s <= 5; ++s) first += l[s] / 5;
  for (int s = 56; s <= 60; ++s) last += l[s] / 5;
  // Measured: 6.16 over the first 5 steps, 3.18 over the last 5.
  EXPECT_LT(last, 0.75 * first) << first << " -> " << last;
  run_ok(mpi_launch(1) + fid_binary() + " train-reader --threads 1 --train_data " +
            ws.path("train.jsonl") + " --model_path " + checkpoint("pre", "latest") +
            " --checkpoint_dir " + ws.path("ck") + " --name from_pre --n_context 2 "
            "--text_maxlength 48 --total_steps 2 --save_freq 2 --eval_freq 1000");
  EXPECT_TRUE(path_exists(checkpoint("from_pre", "step-2") + "/model.safetensors"));

  std::string out;
  EXPECT_NE(run_command(mpi_launch(1) + fid_binary() + " pretrain-reader --passages " +
                        ws.path("missing.tsv") + " --model_path " + ws.path("t5") +
                        " --checkpoint_dir " + ws.path("ck") + " --name bad", &out), 0);
  EXPECT_NE(out.find("missing.tsv"), std::string::npos) << out;
}

// --crossattention_score mass: log attention shares, so exp sums to 1 over
// the passages of each example; the seed's mean logits do not.
TEST(ReaderDist, AttentionMassScoresAreLogShares) {
  auto& ws = workspace();
  run_ok(ws.train_command(1, "mass_base", "--total_steps 2 --save_freq 2 --eval_freq 1000"));
  const std::string opts = "--model_path " + checkpoint("mass_base", "step-2") +
                           " --per_gpu_batch_size 4 --write_crossattention_scores ";
  run_ok(ws.test_command(2, "mass", opts + "--crossattention_score mass"));
  std::istringstream in(read_file(ws.path("ck/mass/dataset_wscores.json")));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    double total = 0;
    for (auto& c : j["ctxs"]) total += std::exp(c["score"].get<double>());
    // Both passages share all of the attention (padding gets none).
    EXPECT_NEAR(total, 1.0, 1e-4) << line;
    ++n;
  }
  EXPECT_EQ(n, 24);
  std::string out;
  EXPECT_NE(run_command(ws.test_command(1, "bad", opts + "--crossattention_score sum"), &out), 0);
  EXPECT_NE(out.find("--crossattention_score"), std::string::npos) << out;
}

// --crossattention_score likelihood: per-passage mean log-likelihood of the
// target, the same on 1 and 2 ranks, a log-probability (< 0) for every
// passage, and different passages score differently.
TEST(ReaderDist, LikelihoodScoresAgreeOnOneAndTwoRanks) {
  auto& ws = workspace();
  run_ok(ws.train_command(1, "ll_base", "--total_steps 2 --save_freq 2 --eval_freq 1000"));
  const std::string opts = "--model_path " + checkpoint("ll_base", "step-2") +
                           " --per_gpu_batch_size 4 --write_crossattention_scores "
                           "--crossattention_score likelihood ";
  run_ok(ws.test_command(1, "ll1", opts));
  run_ok(ws.test_command(2, "ll2", opts));
  std::istringstream a(read_file(ws.path("ck/ll1/dataset_wscores.json")));
  std::istringstream b(read_file(ws.path("ck/ll2/dataset_wscores.json")));
  std::string la, lb;
  int n = 0, differ = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    ASSERT_EQ(ja["ctxs"].size(), jb["ctxs"].size()) << la;
    for (size_t k = 0; k < ja["ctxs"].size(); ++k) {
      const double x = ja["ctxs"][k]["score"].get<double>(), y = jb["ctxs"][k]["score"].get<double>();
      EXPECT_LT(x, 0.0) << la;
      EXPECT_NEAR(x, y, 1e-4 * std::max(1.0, std::abs(x))) << la;
    }
    differ += ja["ctxs"][0]["score"] != ja["ctxs"][1]["score"];
    ++n;
  }
  EXPECT_EQ(n, 24);
  EXPECT_GT(differ, 12);
}

}  // namespace
}  // namespace fid::testing
