// `fid train-tokenizer`: a sentencepiece model with T5's special ids from
// text or passages (train::train_tokenizer). Runs in one process (no peers).
#include "cli/command.h"
#include "train/tokenizer_trainer.h"

namespace fid::cli {
namespace {

class TrainTokenizerCommand : public Command {
 public:
  std::string name() const override { return "train-tokenizer"; }
  std::string description() const override {
    return "Train a sentencepiece model (unigram or BPE) with T5's special ids from text or passages";
  }
  bool distributed() const override { return false; }

  void add_options(CLI::App& app) override {
    app.add_option(flag("input"), o_.input, "text file(s), one sentence per line (comma-separated list)");
    app.add_option(flag("passages"), o_.passages, "DPR passages TSV (id, text, title): trains on text and title");
    app.add_option(flag("output_dir"), o_.output_dir, "directory that receives spiece.model")->required();
    app.add_option(flag("vocab_size"), o_.vocab_size, "sentencepiece pieces (T5 adds 100 sentinels after them)");
    app.add_option(flag("model_type"), o_.model_type, "unigram or bpe")
        ->check(CLI::IsMember({"unigram", "bpe"}));
    app.add_option(flag("character_coverage"), o_.character_coverage,
                   "fraction of characters covered by the model (1.0 for small alphabets)");
    app.add_option(flag("input_sentence_size"), o_.input_sentence_size,
                   "sample at most this many sentences (0: all)");
    app.add_option(flag("max_sentence_length"), o_.max_sentence_length,
                   "longer sentences (bytes) are skipped by sentencepiece");
    app.add_option(flag("hard_vocab_limit"), o_.hard_vocab_limit,
                   "false: --vocab_size is an upper bound (a small corpus yields fewer pieces "
                   "instead of an error)")->capture_default_str();
    app.add_option(flag("split_digits"), o_.split_digits,
                   "true: every digit is its own piece, so a number reads the same wherever it "
                   "stands (\"1977\" and \"1977.\" share their pieces)")->capture_default_str();
  }

  void run(dist::Communicator&) override {
    o_.threads = world.threads;
    train::train_tokenizer(o_);
  }

 private:
  train::TokenizerTrainOptions o_;
};

}  // namespace
}  // namespace fid::cli

using fid::cli::TrainTokenizerCommand;
FID_REGISTER_COMMAND(TrainTokenizerCommand, "train-tokenizer")
