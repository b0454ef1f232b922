// `fid pretrain-reader`: T5 span corruption on the passages, data parallel
// under mpirun: an unsupervised warm start for `train-reader`.
#include "cli/command.h"
#include "cli/reader_options.h"
#include "common/error.h"
#include "train/reader_pretrainer.h"

namespace fid::cli {
namespace {

class PretrainReaderCommand : public Command {
 public:
  std::string name() const override { return "pretrain-reader"; }
  std::string description() const override {
    return "Pretrain a T5 reader with span corruption on the passages (unsupervised warm start)";
  }
  void add_options(CLI::App& app) override {
    add_run_options(app, o_.loop.name, o_.loop.checkpoint_dir, o_.model_path,
                    o_.loop.per_gpu_batch_size, o_.loop.seed);
    app.add_option(flag("passages"), o_.passages, "passages TSV (id, text, title)")->required();
    app.add_option(flag("text_maxlength"), o_.text_maxlength,
                   "tokens of \"title: <t> context: <p>\" kept before corruption")->capture_default_str();
    app.add_option(flag("noise_density"), o_.spans.noise_density, "fraction of tokens hidden")
        ->capture_default_str();
    app.add_option(flag("mean_noise_span_length"), o_.spans.mean_span_length,
                   "mean tokens per hidden span")->capture_default_str();
    add_loop_options(app, o_.loop);
    add_precision_option(app, precision_);
    add_device_option(app, o_.loop.device);
    add_loss_scale_option(app, o_.loop.loss_scaling);
    add_optim_options(app, o_.loop.schedule, o_.loop.optim, o_.loop.accumulation_steps, o_.dropout);
  }
  void run(dist::Communicator& comm) override {
    o_.loop.command_line = given;
    FID_CHECK(o_.model_path != "none", "--model_path is required (a T5 directory, e.g. from "
              "`fid init-model --arch t5`)");
    o_.precision = reader_precision(precision_);
    train::pretrain_reader(comm, o_);
  }

 private:
  train::ReaderPretrainOptions o_;
  std::string precision_ = "fp32";
};

}  // namespace

FID_REGISTER_COMMAND(PretrainReaderCommand, "pretrain-reader")

}  // namespace fid::cli
