// `fid test-reader`: the seed's test_reader.py. Exact match over the eval set
// (split across ranks), answers (--write_results) and the cross-attention
// scores that train the retriever (--write_crossattention_scores).
#include "cli/command.h"
#include "cli/reader_options.h"
#include "common/files.h"
#include "common/log.h"
#include "runtime/placement.h"
#include "runtime/reader_eval.h"

namespace fid::cli {
namespace {

class TestReaderCommand : public Command {
 public:
  std::string name() const override { return "test-reader"; }
  std::string description() const override {
    return "Evaluate a FiD reader: EM, answers, cross-attention scores for distillation";
  }
  void add_options(CLI::App& app) override {
    add_run_options(app, name_, checkpoint_dir_, model_path_, o_.batch_size, seed_);
    // --eval_data_path: the name FiD's README uses in its distillation example.
    app.add_option(flag("eval_data") + ",--eval_data_path", eval_data_, "questions with ctxs (FiD JSON or JSONL)")
        ->required();
    add_generation_options(app, o_.generation);
    app.add_option(flag("eval_print_freq"), o_.print_freq, "batches between progress lines")
        ->capture_default_str();
    app.add_flag(flag("write_results"), write_results_, "write final_output.txt (id<TAB>answer)");
    app.add_flag(flag("write_crossattention_scores"), write_scores_,
                 "write dataset_wscores.json with the reader's passage scores");
    app.add_option(flag("crossattention_score"), score_kind_,
                   "seed: mean pre-softmax logit per passage (FiD's code); mass: log of the "
                   "attention probability the passage receives; likelihood: mean log-likelihood "
                   "of the example's target given the passage alone (Atlas's perplexity "
                   "distillation; needs `target` or `answers`)")
        ->check(CLI::IsMember({"seed", "mass", "likelihood"}))->capture_default_str();
    add_reader_input_options(app, o_.input);
    add_precision_option(app, precision_);
    add_device_option(app, device_);
    // FiD's test_reader.py accepts these (its parser is the training one's).
    app.add_option(flag("train_data"), ignored_.train_data, "accepted as FiD accepts it; ignored");
    app.add_option(flag("model_size"), ignored_.model_size, "accepted as FiD accepts it; ignored");
    app.add_flag(flag("use_checkpoint"), ignored_.use_checkpoint, "accepted as FiD accepts it; ignored");
  }

  void run(dist::Communicator& comm) override {
    FID_CHECK(model_path_ != "none", "--model_path is required (a FiD reader directory)");
    if (comm.rank() == 0) {
      for (const char* f : {"--train_data", "--model_size", "--use_checkpoint"}) {
        if (given.count(f)) log::warn(f, ": accepted for compatibility with FiD's test_reader.py and ignored");
      }
    }
    o_.precision = reader_precision(precision_);
    const std::string run_dir = join_path(checkpoint_dir_, name_);
    if (comm.rank() == 0) make_directories(run_dir);
    const c10::Device device = runtime::parse_device(device_, comm.local_rank());
    model::check_precision_on(o_.precision, device.type());
    runtime::LoadedReader lr = runtime::load_reader(model_path_);
    lr.t5->to(device);
    model::FidReader reader(lr.t5);
    o_.with_scores = write_scores_;
    o_.score = score_kind_ == "mass"         ? runtime::PassageScore::kAttentionMass
               : score_kind_ == "likelihood" ? runtime::PassageScore::kLikelihood
                                             : runtime::PassageScore::kAttention;
    o_.gather = write_results_ || write_scores_;
    runtime::ReaderEvalResult r = runtime::evaluate_reader(comm, reader, lr.tokenizer, eval_data_, o_);
    log::info("EM ", 100.0 * r.exact_match, ", F1 ", 100.0 * r.f1, ", Total number of example ", r.total);
    if (comm.rank() == 0) {
      write_json_atomic(join_path(run_dir, "eval_metrics.json"),
                        {{"exact_match", r.exact_match}, {"f1", r.f1}, {"scored", r.scored}, {"total", r.total},
                         {"eval_data", eval_data_}, {"model_path", model_path_},
                         {"precision", model::to_string(o_.precision)}});
      if (write_results_) {
        runtime::write_answers(join_path(run_dir, "final_output.txt"), r.ids, r.answers);
      }
      if (write_scores_) {
        const std::string out = join_path(run_dir, "dataset_wscores.json");
        runtime::write_dataset_with_scores(eval_data_, out, r.scores);
        log::info("wrote ", out);
      }
    }
    comm.barrier();
  }

 private:
  runtime::ReaderEvalOptions o_;
  std::string name_ = "experiment_name", checkpoint_dir_ = "./checkpoint/", model_path_ = "none";
  std::string eval_data_, precision_ = "fp32", score_kind_ = "seed", device_ = "auto";
  int64_t seed_ = 0;
  bool write_results_ = false, write_scores_ = false;
  struct {
    std::string train_data, model_size;
    bool use_checkpoint = false;
  } ignored_;
};

}  // namespace

FID_REGISTER_COMMAND(TestReaderCommand, "test-reader")

}  // namespace fid::cli
