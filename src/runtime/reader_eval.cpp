#include "runtime/reader_eval.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "common/log.h"
#include "common/progress.h"
#include "data/example_reader.h"
#include "dist/collectives.h"
#include "runtime/placement.h"
#include "text/metrics.h"

namespace fid::runtime {
namespace {

// One rank's results, flattened for the byte collectives.
struct Shard {
  std::vector<int64_t> index;
  std::string ids, answers;  // '\0'-separated
  std::vector<float> scores;  // n_context per example
};

std::vector<std::string> split0(const std::string& s, size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  size_t begin = 0;
  for (size_t k = 0; k < n; ++k) {
    size_t end = s.find('\0', begin);
    out.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

}  // namespace

ReaderEvalResult evaluate_reader(dist::Communicator& comm, model::FidReader& reader,
                                 const text::T5Tokenizer& tokenizer, const std::string& path,
                                 const ReaderEvalOptions& options) {
  FID_CHECK(options.input.n_context > 0, "--n_context must be positive, got ", options.input.n_context);
  FID_CHECK(options.batch_size > 0, "--per_gpu_batch_size must be positive, got ", options.batch_size);
  model::check_generation_options(options.generation);
  torch::NoGradGuard no_grad;
  const bool was_training = reader.t5().is_training();
  reader.t5().eval();
  // Batches go where the model is (the caller placed it: --device).
  const c10::Device device = module_device(reader.t5());
  data::ReaderOptions ro;
  ro.n_context = options.input.n_context;
  ro.sort_by_score = true;
  ro.shard_rank = comm.rank();
  ro.shard_world = comm.size();
  data::ExampleReader in(path, ro);

  Shard mine;
  double em_sum = 0, f1_sum = 0;
  int64_t scored = 0;
  std::vector<data::Example> batch;
  std::vector<int64_t> batch_index;
  Progress progress("evaluating " + path, -1, "examples");
  int64_t batches = 0;

  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<const data::Example*> ptrs;
    for (auto& e : batch) ptrs.push_back(&e);
    // The likelihood score needs the targets; generation ignores them.
    const bool likelihood = options.with_scores && options.score == PassageScore::kLikelihood;
    std::vector<std::string> targets;
    if (likelihood) {
      for (const auto* e : ptrs) targets.push_back(training_target(*e, 0));
    }
    ReaderInputOptions io = options.input;
    io.with_targets = likelihood;
    ReaderBatch b = make_reader_batch(tokenizer, ptrs, targets, io);
    move_to(b, device);
    model::AutocastScope autocast(options.precision, device.type());
    const bool attention = options.with_scores && !likelihood;
    const model::GenerationOptions& go = options.generation;
    // Beam search returns the answers; the first step's attention (the same
    // for every beam) comes from one greedy step.
    const bool beams = go.num_beams > 1;
    model::FidGeneration gen;
    if (!beams || attention || likelihood)
      gen = reader.generate(b.passage_ids, b.passage_mask, beams ? 2 : go.max_length, attention, go.min_length);
    at::Tensor ids = beams ? model::beam_search(reader, b.passage_ids, b.passage_mask, go, gen.encoder_out).ids
                           : gen.ids.cpu().contiguous();  // (B * num_return_sequences, T')
    at::Tensor passage_scores;  // (B, N)
    if (likelihood) {
      passage_scores = model::answer_log_likelihood(reader, gen.encoder_out, b.passage_mask, b.labels);
    } else if (attention) {
      passage_scores = options.score == PassageScore::kAttentionMass
                           ? model::crossattention_log_mass(gen.score_storage, b.passage_mask)
                           : gen.crossattention_scores;
    }
    if (passage_scores.defined()) passage_scores = passage_scores.cpu();
    for (size_t k = 0; k < batch.size(); ++k) {
      std::string answer, answers;
      for (int64_t j = 0; j < go.num_return_sequences; ++j) {
        at::Tensor row = ids[static_cast<int64_t>(k) * go.num_return_sequences + j].contiguous();
        std::vector<int64_t> v(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
        const std::string text = tokenizer.decode(v, /*skip_special_tokens=*/true);
        if (j == 0) answer = text;
        answers += (j ? "\t" : "") + text;
      }
      if (!batch[k].answers.empty()) {
        em_sum += text::ems(answer, batch[k].answers) ? 1.0 : 0.0;
        f1_sum += text::f1_score(answer, batch[k].answers);
        ++scored;
      }
      mine.index.push_back(batch_index[k]);
      if (options.gather) {
        mine.ids += batch[k].id + '\0';
        mine.answers += answers + '\0';
        if (options.with_scores) {
          at::Tensor s = passage_scores[static_cast<int64_t>(k)].to(at::kFloat).contiguous();
          mine.scores.insert(mine.scores.end(), s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
        }
      }
    }
    progress.add(static_cast<int64_t>(batch.size()));
    if (options.print_freq > 0 && ++batches % options.print_freq == 0) {
      log::info("evaluation on rank ", comm.rank(), ": ", batches, " batches | average = ",
                scored > 0 ? em_sum / static_cast<double>(scored) : 0.0);
    }
    batch.clear();
    batch_index.clear();
  };

  data::Example ex;
  while (in.next(ex)) {
    if (options.max_examples >= 0 && in.index() >= options.max_examples) break;
    batch.push_back(ex);
    batch_index.push_back(in.index());
    if (static_cast<int64_t>(batch.size()) == options.batch_size) flush();
  }
  flush();

  ReaderEvalResult result;
  // EM as a weighted mean over ranks: every rank holds the true value.
  auto em = dist::weighted_average(comm, scored > 0 ? em_sum / static_cast<double>(scored) : 0.0,
                                   static_cast<double>(scored));
  result.exact_match = em.mean;
  result.f1 = dist::weighted_average(comm, scored > 0 ? f1_sum / static_cast<double>(scored) : 0.0,
                                     static_cast<double>(scored)).mean;
  result.scored = static_cast<int64_t>(em.weight);
  result.total = dist::all_reduce_sum(comm, static_cast<int64_t>(mine.index.size()));
  // Every rank sees the same total, so all of them stop here together.
  FID_CHECK(result.total > 0, "--eval_data '", path, "' holds no questions",
            options.max_examples == 0 ? " (--max_eval_examples is 0)" : "",
            ": there is nothing to evaluate; give a file with at least one question");

  if (options.gather) {
    auto index = dist::gather_vectors(comm, mine.index, 0);
    auto ids = comm.gather_bytes(mine.ids, 0);
    auto answers = comm.gather_bytes(mine.answers, 0);
    auto scores = dist::gather_vectors(comm, mine.scores, 0);
    if (comm.rank() == 0) {
      const size_t n = static_cast<size_t>(result.total);
      result.ids.resize(n);
      result.answers.resize(n);
      if (options.with_scores) result.scores.resize(n);
      const auto nc = static_cast<size_t>(options.input.n_context);
      for (size_t r = 0; r < index.size(); ++r) {
        auto rid = split0(ids[r], index[r].size());
        auto rans = split0(answers[r], index[r].size());
        for (size_t k = 0; k < index[r].size(); ++k) {
          // Example i of the file sits at position i: each rank read i % W == r.
          const auto pos = static_cast<size_t>(index[r][k]);
          FID_CHECK(pos < n, "evaluation gathered example index ", pos, " beyond ", n);
          result.ids[pos] = rid[k];
          result.answers[pos] = rans[k];
          if (options.with_scores) {
            result.scores[pos].assign(scores[r].begin() + static_cast<std::ptrdiff_t>(k * nc),
                                      scores[r].begin() + static_cast<std::ptrdiff_t>((k + 1) * nc));
          }
        }
      }
    }
  }
  if (was_training) reader.t5().train();
  return result;
}

}  // namespace fid::runtime
