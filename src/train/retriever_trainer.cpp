#include "train/retriever_trainer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <algorithm>
#include <numeric>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/example_reader.h"
#include "data/indexed_dataset.h"
#include "dist/collectives.h"
#include "model/retriever_io.h"
#include "runtime/loaded_retriever.h"
#include "train/retriever_targets.h"

namespace fid::train {
namespace {

const int kTopK[] = {1, 2, 5};

// The seed's eval_batch for one question: `order` lists gold positions
// (ctxs are sorted by gold score) in the order the retriever ranks them.
void score_question(const std::vector<int64_t>& order, int64_t n_context, std::vector<double>& sums) {
  double inversions = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t j = i + 1; j < order.size(); ++j) inversions += order[i] > order[j] ? 1 : 0;
  }
  sums[0] += inversions;
  size_t m = 1;
  for (int k : kTopK) {
    if (k > n_context) break;
    double in_top = 0;
    for (int i = 0; i < k; ++i) in_top += order[static_cast<size_t>(i)] < k ? 1 : 0;
    int64_t last = 0;  // passages needed to hold every gold top-k passage
    for (size_t i = 0; i < order.size(); ++i) {
      if (order[i] < k) last = static_cast<int64_t>(i) + 1;
    }
    sums[m++] += in_top / k;
    sums[m++] += static_cast<double>(last);
  }
}

class RetrieverTask : public TrainTask {
 public:
  RetrieverTask(const RetrieverTrainOptions& o, const std::string& dir, bool resume, const c10::Device& device)
      : o_(o), device_(device), r_(dir, o.arch, o.head_seed), train_(o.train_data, dataset_options(o)),
        slots_(static_cast<size_t>(o.loop.accumulation_steps)) {
    select_confident_questions();
    if (o.reset_projection > 0 && !resume) reset_head(o.reset_projection);
    if (o.temperature_score) r_.model()->mutable_config().score_temperature = *o.temperature_score;
    if (o.temperature_gold) r_.model()->mutable_config().gold_temperature = *o.temperature_gold;
    set_dropout(*r_.model(), o.dropout);
    // After reset_head: the new head's parameters move too.
    r_.model()->to(device_);
  }
  torch::nn::Module& module() override { return *r_.model(); }
  int64_t num_examples() const override { return static_cast<int64_t>(kept_.size()); }

  double prepare(int slot, const std::vector<int64_t>& indices, int64_t) override {
    std::vector<data::Example> exs(indices.size());
    std::vector<const data::Example*> ptrs;
    for (size_t k = 0; k < indices.size(); ++k) {
      train_.get(kept_[static_cast<size_t>(indices[k])], exs[k]);
      check_targets(exs[k], o_.train_data);
      ptrs.push_back(&exs[k]);
    }
    slots_[static_cast<size_t>(slot)] = r_.encode_examples(ptrs, o_.n_context, true);
    runtime::move_to(slots_[static_cast<size_t>(slot)], device_);
    // FiD's KL loss is a mean over all B*N elements.
    return static_cast<double>(slots_[static_cast<size_t>(slot)].gold_score.numel());
  }

  at::Tensor loss(int slot) override {
    runtime::RetrieverInputs& in = slots_[static_cast<size_t>(slot)];
    auto& m = *r_.model();
    // Autograd records the casts, so backward runs in the reduced type too.
    model::AutocastScope autocast(o_.precision, device_.type());
    if (!o_.in_batch_negatives) {
      return m.forward(in.question_ids, in.question_mask, in.passage_ids, in.passage_mask,
                       in.gold_score).loss;
    }
    auto out = m.forward(in.question_ids, in.question_mask, in.passage_ids, in.passage_mask);
    return m.in_batch_kldivloss(out.question_output, out.passage_output, in.gold_score);
  }

  std::map<std::string, double> evaluate(dist::Communicator& comm) override {
    if (o_.eval_data.empty() || o_.eval_data == "none") return {};
    torch::NoGradGuard no_grad;
    r_.model()->eval();
    data::ReaderOptions ro = dataset_options(o_);
    ro.shard_rank = comm.rank();
    ro.shard_world = comm.size();
    data::ExampleReader in(o_.eval_data, ro);
    std::vector<double> sums(1 + 2 * std::size(kTopK), 0.0);
    double loss_sum = 0, elements = 0, questions = 0;
    std::vector<data::Example> batch;
    auto flush = [&] {
      if (batch.empty()) return;
      std::vector<const data::Example*> ptrs;
      for (auto& e : batch) ptrs.push_back(&e);
      runtime::RetrieverInputs x = r_.encode_examples(ptrs, o_.n_context, true);
      runtime::move_to(x, device_);
      auto out = r_.model()->forward(x.question_ids, x.question_mask, x.passage_ids, x.passage_mask,
                                     x.gold_score);
      loss_sum += out.loss.item<double>() * static_cast<double>(x.gold_score.numel());
      elements += static_cast<double>(x.gold_score.numel());
      at::Tensor order = at::argsort(out.score, /*dim=*/1, /*descending=*/true).cpu().contiguous();
      for (int64_t b = 0; b < order.size(0); ++b) {
        const int64_t* p = order[b].data_ptr<int64_t>();
        score_question(std::vector<int64_t>(p, p + order.size(1)), o_.n_context, sums);
        questions += 1;
      }
      batch.clear();
    };
    data::Example ex;
    while (in.next(ex)) {
      check_targets(ex, o_.eval_data);
      batch.push_back(ex);
      if (static_cast<int64_t>(batch.size()) == o_.loop.per_gpu_batch_size) flush();
    }
    flush();
    r_.model()->train();
    // Means over the whole dev set, on every rank.
    std::vector<double> values = {loss_sum / std::max(1.0, elements)};
    std::vector<double> weights = {elements};
    for (double s : sums) {
      values.push_back(s / std::max(1.0, questions));
      weights.push_back(questions);
    }
    auto means = dist::weighted_averages(comm, values, weights);
    std::map<std::string, double> m = {{"eval_loss", means[0].mean}, {"inversions", means[1].mean}};
    size_t i = 2;
    for (int k : kTopK) {
      if (k > o_.n_context) break;
      m["avg_top" + std::to_string(k)] = means[i++].mean;
      m["idx_top" + std::to_string(k)] = means[i++].mean;
    }
    return m;
  }
  std::string selection_metric() const override { return "eval_loss"; }
  bool higher_is_better() const override { return false; }
  void save_model(const std::string& dir) override {
    model::save_retriever(*r_.model(), dir, r_.dir());
  }

 private:
  static data::ReaderOptions dataset_options(const RetrieverTrainOptions&) {
    data::ReaderOptions ro;
    // Every ctx is read, so that check_targets sees what the first n_context
    // would be ranked among; encode_examples takes the first n_context.
    ro.n_context = -1;
    ro.sort_by_score = true;  // gold order = position, as the seed's Dataset sorts
    return ro;
  }
  void check_targets(const data::Example& ex, const std::string& path) {
    if (!check_distillation_targets(ex, o_.n_context, path) && !warned_unmarked_) {
      warned_unmarked_ = true;
      log::warn("train-retriever: the ctx scores of '", path, "' carry no score_origin: they are "
                "taken as reader scores of every passage (a file of the seed's test_reader)");
    }
  }
  // kept_: the training examples, in file order; with --min_top_share only
  // those whose reader put enough of its score mass on one passage. Every
  // rank reads the whole file, so all agree on the list.
  void select_confident_questions() {
    data::Example ex;
    for (int64_t i = 0; i < train_.size(); ++i) {
      if (o_.min_top_share > 0) {
        train_.get(i, ex);
        if (top_score_share(ex) < o_.min_top_share) continue;
      }
      kept_.push_back(i);
    }
    FID_CHECK(!kept_.empty(), "--min_top_share ", o_.min_top_share, " keeps none of the ",
              train_.size(), " questions of '", o_.train_data, "': lower it (1/N is a reader with "
              "no preference among N passages)");
    if (o_.min_top_share > 0) {
      log::info("train-retriever: ", kept_.size(), " of ", train_.size(), " questions of '",
                o_.train_data, "' have a top passage with at least ", o_.min_top_share,
                " of the reader's score mass (--min_top_share)");
    }
  }
  // The seed's unconditional 256-d head, as an explicit option.
  void reset_head(int64_t dim) {
    auto& m = *r_.model();
    const int64_t hidden = m.config().bert.hidden_size;
    at::manual_seed(o_.head_seed);
    torch::nn::Linear proj(hidden, dim);
    torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({dim}).eps(1e-5));
    if (m.proj) {
      m.proj = m.replace_module("proj", proj);
      m.norm = m.replace_module("norm", norm);
    } else {
      m.proj = m.register_module("proj", proj);
      m.norm = m.register_module("norm", norm);
    }
    m.mutable_config().projection = true;
    m.mutable_config().indexing_dimension = dim;
    log::info("train-retriever: new ", hidden, "->", dim, " projection head (--reset_projection)");
  }
  const RetrieverTrainOptions& o_;
  c10::Device device_;
  runtime::LoadedRetriever r_;
  data::IndexedDataset train_;
  std::vector<int64_t> kept_;
  std::vector<runtime::RetrieverInputs> slots_;
  bool warned_unmarked_ = false;
};

}  // namespace

void train_retriever(dist::Communicator& comm, const RetrieverTrainOptions& options) {
  RetrieverTrainOptions o = options;
  const c10::Device device = training_device(comm, o.loop, o.precision);
  check_training_inputs(o.train_data, o.eval_data, o.n_context);
  // A file of the wrong kind, or a malformed example anywhere in it, is
  // refused before any model is loaded.
  for (const std::string& path : {o.train_data, o.eval_data}) {
    check_every_example(comm, path, data::ReaderOptions{},
                        [&](const data::Example& ex) { check_distillation_targets(ex, o.n_context, path); });
  }
  StartPoint start = start_point(comm, o.loop, o.model_path);
  RetrieverTask task(o, start.model_dir, start.resume, device);
  run_training(comm, task, o.loop, start);
}

}  // namespace fid::train
