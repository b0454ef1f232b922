// `fid train-reader`: the seed's train_reader.py, data parallel under mpirun.
#include "cli/command.h"
#include "cli/reader_options.h"
#include "model/hf_hub.h"
#include "train/reader_trainer.h"

namespace fid::cli {
namespace {

class TrainReaderCommand : public Command {
 public:
  std::string name() const override { return "train-reader"; }
  std::string description() const override {
    return "Train a Fusion-in-Decoder reader (data parallel over the MPI ranks)";
  }
  void add_options(CLI::App& app) override {
    add_run_options(app, o_.loop.name, o_.loop.checkpoint_dir, o_.model_path,
                    o_.loop.per_gpu_batch_size, o_.loop.seed);
    app.add_option(flag("train_data"), o_.train_data, "training set (FiD JSON or JSONL)")->required();
    app.add_option(flag("eval_data"), o_.eval_data, "dev set evaluated every --eval_freq steps");
    add_loop_options(app, o_.loop);
    app.add_option(flag("eval_print_freq"), o_.eval_print_freq,
                   "evaluation batches between progress lines")->capture_default_str();
    app.add_option(flag("max_eval_examples"), o_.max_eval_examples,
                   "evaluate on the first N dev examples only (-1: all)")->capture_default_str();
    app.add_option(flag("model_size"), model_size_,
                   "without --model_path: start from Hugging Face's t5-<size> in the local cache "
                   "(small, base, large, 3b, 11b), as FiD does")->capture_default_str();
    app.add_flag(flag("answer_passages_first"), o_.answer_passages_first,
                 "train on the ctxs that contain an answer first (DPR's positive passages), then "
                 "the rest, cut to --n_context (not in the seed, which takes the first n_context)");
    app.add_flag(flag("use_checkpoint"), o_.use_checkpoint,
                 "recompute encoder activations in backward (less memory)");
    add_reader_input_options(app, o_.input);
    add_generation_options(app, o_.generation);
    add_precision_option(app, precision_);
    add_device_option(app, o_.loop.device);
    add_loss_scale_option(app, o_.loop.loss_scaling);
    add_optim_options(app, o_.loop.schedule, o_.loop.optim, o_.loop.accumulation_steps, o_.dropout);
  }
  void run(dist::Communicator& comm) override {
    o_.loop.command_line = given;
    // FiD's train_reader.py: no --model_path means pretrained t5-<model_size>.
    if (o_.model_path == "none") o_.model_path = model::resolve_model_dir("t5-" + model_size_);
    o_.precision = reader_precision(precision_);
    train::train_reader(comm, o_);
  }

 private:
  train::ReaderTrainOptions o_;
  std::string model_size_ = "base";
  std::string precision_ = "fp32";
};

}  // namespace

FID_REGISTER_COMMAND(TrainReaderCommand, "train-reader")

}  // namespace fid::cli
