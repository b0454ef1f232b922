#include "train/reader_trainer.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/files.h"
#include "data/indexed_dataset.h"
#include "model/t5_io.h"
#include "train/reader_targets.h"

namespace fid::train {
namespace {

class ReaderTask : public TrainTask {
 public:
  ReaderTask(const ReaderTrainOptions& o, const std::string& model_dir, int64_t accumulation,
             const c10::Device& device)
      : o_(o), device_(device), lr_(runtime::load_reader(model_dir, o.dropout)), reader_(lr_.t5),
        train_(o.train_data, dataset_options(o)), slots_(static_cast<size_t>(accumulation)) {
    lr_.t5->to(device_);
    lr_.t5->set_gradient_checkpointing(o.use_checkpoint);
    eval_.input = o.input;
    eval_.batch_size = o.loop.per_gpu_batch_size;
    eval_.max_examples = o.max_eval_examples;
    eval_.print_freq = o.eval_print_freq;
    eval_.generation = o.generation;
    eval_.precision = o.precision;
  }
  torch::nn::Module& module() override { return *lr_.t5; }
  int64_t num_examples() const override { return train_.size(); }

  double prepare(int slot, const std::vector<int64_t>& indices, int64_t step) override {
    std::vector<data::Example> exs(indices.size());
    std::vector<const data::Example*> ptrs;
    std::vector<std::string> targets;
    for (size_t k = 0; k < indices.size(); ++k) {
      train_.get(indices[k], exs[k]);
      if (o_.answer_passages_first) answer_passages_first(exs[k], o_.input.n_context);
      ptrs.push_back(&exs[k]);
      // The seed picks a random answer when there is no target: here a
      // choice that depends on the step and example only (resumable).
      const uint64_t choice = static_cast<uint64_t>(step) * 1000003ULL + static_cast<uint64_t>(indices[k]);
      targets.push_back(runtime::training_target(exs[k], choice));
    }
    slots_[static_cast<size_t>(slot)] = runtime::make_reader_batch(lr_.tokenizer, ptrs, targets, o_.input);
    runtime::move_to(slots_[static_cast<size_t>(slot)], device_);
    return static_cast<double>(slots_[static_cast<size_t>(slot)].label_tokens);
  }

  at::Tensor loss(int slot) override {
    runtime::ReaderBatch& b = slots_[static_cast<size_t>(slot)];
    // Autograd records the casts, so backward (outside the scope) runs the
    // products in bf16 too, as torch.autocast does.
    model::AutocastScope autocast(o_.precision, device_.type());
    return reader_.forward(b.passage_ids, b.passage_mask, b.labels).loss;
  }

  std::map<std::string, double> evaluate(dist::Communicator& comm) override {
    if (o_.eval_data.empty() || o_.eval_data == "none") return {};
    runtime::ReaderEvalResult r = runtime::evaluate_reader(comm, reader_, lr_.tokenizer, o_.eval_data, eval_);
    return {{"eval_em", r.exact_match}};
  }
  std::string selection_metric() const override { return "eval_em"; }
  bool higher_is_better() const override { return true; }
  void save_model(const std::string& dir) override { model::save_t5(*lr_.t5, dir, lr_.tokenizer_file); }

 private:
  static data::ReaderOptions dataset_options(const ReaderTrainOptions& o) {
    data::ReaderOptions ro;
    // Choosing the answer passages needs every ctx; prepare() cuts to n_context.
    ro.n_context = o.answer_passages_first ? -1 : o.input.n_context;
    ro.sort_by_score = true;
    return ro;
  }
  const ReaderTrainOptions& o_;
  c10::Device device_;
  runtime::LoadedReader lr_;
  model::FidReader reader_;
  data::IndexedDataset train_;
  std::vector<runtime::ReaderBatch> slots_;
  runtime::ReaderEvalOptions eval_;
};

}  // namespace

void train_reader(dist::Communicator& comm, const ReaderTrainOptions& options) {
  ReaderTrainOptions o = options;
  const c10::Device device = training_device(comm, o.loop, o.precision);
  check_training_inputs(o.train_data, o.eval_data, o.input.n_context);
  // Every example read once before the first step: a malformed one, or a
  // training example without `target` or `answers`, fails the run here.
  check_every_example(comm, o.train_data, data::ReaderOptions{},
                      [](const data::Example& ex) { runtime::training_target(ex, 0); });
  check_every_example(comm, o.eval_data, data::ReaderOptions{}, [](const data::Example&) {});
  StartPoint start = start_point(comm, o.loop, o.model_path);
  ReaderTask task(o, start.model_dir, o.loop.accumulation_steps, device);
  run_training(comm, task, o.loop, start);
}

}  // namespace fid::train
