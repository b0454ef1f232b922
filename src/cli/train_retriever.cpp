// `fid train-retriever`: the seed's train_retriever.py (retriever distillation
// from the reader's cross-attention scores), data parallel under mpirun.
#include "cli/command.h"
#include "cli/reader_options.h"
#include "model/hf_hub.h"
#include "common/error.h"
#include "train/retriever_trainer.h"

namespace fid::cli {
namespace {

class TrainRetrieverCommand : public Command {
 public:
  std::string name() const override { return "train-retriever"; }
  std::string description() const override {
    return "Train the retriever on the reader's cross-attention scores (KL distillation)";
  }
  void add_options(CLI::App& app) override {
    add_run_options(app, o_.loop.name, o_.loop.checkpoint_dir, o_.model_path,
                    o_.loop.per_gpu_batch_size, o_.loop.seed);
    app.add_option(flag("train_data"), o_.train_data,
                   "questions whose ctx scores are the reader's (test-reader's dataset_wscores.json)")
        ->required();
    app.add_option(flag("eval_data"), o_.eval_data, "dev set scored the same way");
    add_loop_options(app, o_.loop);
    app.add_option(flag("n_context"), o_.n_context, "passages per question")->capture_default_str();
    add_device_option(app, o_.loop.device);
    add_precision_option(app, precision_);
    add_loss_scale_option(app, o_.loop.loss_scaling);
    app.add_option(flag("reset_projection"), o_.reset_projection,
                   "replace the projection head by a fresh one of this size at the start of a new run "
                   "(the seed always does, with 256); 0 keeps the model's head")->capture_default_str();
    app.add_option(flag("head_seed"), o_.head_seed, "seed of the fresh head")->capture_default_str();
    app.add_flag(flag("in_batch_negatives"), o_.in_batch_negatives,
                 "also score each question against the other passages of its batch, with target 0 "
                 "(not in the seed: its loss sees only the question's own passages)");
    app.add_option(flag("min_top_share"), o_.min_top_share,
                   "train only on questions whose top passage holds at least this share of "
                   "softmax(score) over the scored passages, the reader's confident ones (not in "
                   "the seed; 0 keeps every question)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
    // FiD's architecture options: applied to a retriever made from a BERT
    // --model_path, checked against a retriever's config.json.
    app.add_option(flag("question_maxlength"), question_maxlength_, "question tokens");
    app.add_option(flag("passage_maxlength"), passage_maxlength_, "passage tokens");
    app.add_option(flag("indexing_dimension"), indexing_dimension_, "size of the projection head");
    app.add_flag(flag("no_projection"), no_projection_, "no projection head");
    app.add_flag(flag("no_question_mask"), no_question_mask_, "attend to question padding too");
    app.add_flag(flag("no_passage_mask"), no_passage_mask_, "attend to passage padding too");
    app.add_flag(flag("extract_cls"), extract_cls_, "the first token's state instead of the mean");
    app.add_option(flag("temperature_score"), o_.temperature_score,
                   "divides the retriever's scores in the distillation loss (Atlas; default: the model's, 1)")
        ->check(CLI::PositiveNumber);
    app.add_option(flag("temperature_gold"), o_.temperature_gold,
                   "divides the reader's scores in the distillation loss (Atlas; default: the model's, 1)")
        ->check(CLI::PositiveNumber);
    add_optim_options(app, o_.loop.schedule, o_.loop.optim, o_.loop.accumulation_steps, o_.dropout);
  }
  void run(dist::Communicator& comm) override {
    o_.loop.command_line = given;
    // FiD's train_retriever.py: no --model_path means a retriever made from bert-base-uncased.
    if (o_.model_path == "none") o_.model_path = model::resolve_model_dir("bert-base-uncased");
    FID_CHECK(question_maxlength_ == -1 || question_maxlength_ > 0, "--question_maxlength must be positive");
    FID_CHECK(passage_maxlength_ == -1 || passage_maxlength_ > 0, "--passage_maxlength must be positive");
    FID_CHECK(indexing_dimension_ == -1 || indexing_dimension_ > 0, "--indexing_dimension must be positive");
    if (question_maxlength_ > 0) o_.arch.question_maxlength = question_maxlength_;
    if (passage_maxlength_ > 0) o_.arch.passage_maxlength = passage_maxlength_;
    if (indexing_dimension_ > 0) o_.arch.indexing_dimension = indexing_dimension_;
    if (no_projection_) o_.arch.projection = false;
    if (no_question_mask_) o_.arch.apply_question_mask = false;
    if (no_passage_mask_) o_.arch.apply_passage_mask = false;
    if (extract_cls_) o_.arch.extract_cls = true;
    o_.precision = reader_precision(precision_);
    train::train_retriever(comm, o_);
  }

 private:
  train::RetrieverTrainOptions o_;
  std::string precision_ = "fp32";
  int64_t question_maxlength_ = -1, passage_maxlength_ = -1, indexing_dimension_ = -1;
  bool no_projection_ = false, no_question_mask_ = false, no_passage_mask_ = false,
       extract_cls_ = false;
};

}  // namespace

FID_REGISTER_COMMAND(TrainRetrieverCommand, "train-retriever")

}  // namespace fid::cli
