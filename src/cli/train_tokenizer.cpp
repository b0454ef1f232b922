// `fid train-tokenizer`: trains a sentencepiece model (unigram or BPE) with
// T5's special-id layout (<pad>=0, </s>=1, <unk>=2, no <s>) from a text file
// or from the text and title columns of a DPR passages TSV, and writes
// <output_dir>/spiece.model. Runs in one process (no peers).
#include <map>
#include <thread>

#include "cli/command.h"
#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/passages.h"
#include "text/t5_tokenizer.h"

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
    app.add_option(flag("input"), input_, "text file(s), one sentence per line (comma-separated list)");
    app.add_option(flag("passages"), passages_, "DPR passages TSV (id, text, title): trains on text and title");
    app.add_option(flag("output_dir"), output_dir_, "directory that receives spiece.model")->required();
    app.add_option(flag("vocab_size"), vocab_size_, "sentencepiece pieces (T5 adds 100 sentinels after them)");
    app.add_option(flag("model_type"), model_type_, "unigram or bpe")
        ->check(CLI::IsMember({"unigram", "bpe"}));
    app.add_option(flag("character_coverage"), character_coverage_,
                   "fraction of characters covered by the model (1.0 for small alphabets)");
    app.add_option(flag("input_sentence_size"), input_sentence_size_,
                   "sample at most this many sentences (0: all)");
    app.add_option(flag("max_sentence_length"), max_sentence_length_,
                   "longer sentences (bytes) are skipped by sentencepiece");
    app.add_option(flag("hard_vocab_limit"), hard_vocab_limit_,
                   "false: --vocab_size is an upper bound (a small corpus yields fewer pieces "
                   "instead of an error)")->capture_default_str();
    app.add_option(flag("split_digits"), split_digits_,
                   "true: every digit is its own piece, so a number reads the same wherever it "
                   "stands (\"1977\" and \"1977.\" share their pieces)")->capture_default_str();
  }

  void run(dist::Communicator&) override {
    FID_CHECK(input_.empty() != passages_.empty(),
              "give exactly one of --input (text) and --passages (DPR TSV)");
    FID_CHECK(vocab_size_ > 3, "--vocab_size must exceed the 3 special pieces, got ", vocab_size_);
    FID_CHECK(character_coverage_ > 0 && character_coverage_ <= 1,
              "--character_coverage must be in (0, 1], got ", character_coverage_);
    FID_CHECK(input_sentence_size_ >= 0, "--input_sentence_size must be >= 0");
    int threads = world.threads > 0 ? world.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::map<std::string, std::string> opts = {
        {"model_type", model_type_},
        {"vocab_size", std::to_string(vocab_size_)},
        {"character_coverage", std::to_string(character_coverage_)},
        {"input_sentence_size", std::to_string(input_sentence_size_)},
        {"shuffle_input_sentence", "true"},
        {"max_sentence_length", std::to_string(max_sentence_length_)},
        {"hard_vocab_limit", hard_vocab_limit_ ? "true" : "false"},
        {"split_digits", split_digits_ ? "true" : "false"},
        {"num_threads", std::to_string(threads)},
        // T5's layout: pad 0, eos 1, unk 2 and no bos.
        {"pad_id", "0"}, {"eos_id", "1"}, {"unk_id", "2"}, {"bos_id", "-1"},
        {"pad_piece", "<pad>"}, {"eos_piece", "</s>"}, {"unk_piece", "<unk>"}};
    make_directories(output_dir_);

    std::string model;
    if (!input_.empty()) {
      for (const std::string& f : split_commas(input_))
        FID_CHECK(path_exists(f), "--input file ", f, " does not exist");
      opts["input"] = input_;
      log::info("training a ", model_type_, " sentencepiece model of ", vocab_size_, " pieces on ", input_);
      model = text::train_sentencepiece(opts, {});
    } else {
      data::PassageReader reader(passages_);
      data::Passage passage;
      bool title_pending = false;
      int64_t passages = 0;
      // Each passage gives its text, then its title, as two sentences.
      auto next = [&](std::string& sentence) {
        if (title_pending) {
          title_pending = false;
          sentence = passage.title;
          return true;
        }
        if (!reader.next(passage)) return false;
        ++passages;
        title_pending = !passage.title.empty();
        sentence = passage.text;
        return true;
      };
      log::info("training a ", model_type_, " sentencepiece model of ", vocab_size_, " pieces on ", passages_);
      model = text::train_sentencepiece(opts, next);
      log::info("read ", passages, " passages");
    }
    std::string path = join_path(output_dir_, "spiece.model");
    write_file_atomic(path, model);
    // Check what was written loads as a T5 tokenizer.
    text::T5Tokenizer tok = text::T5Tokenizer::load(path);
    log::info("wrote ", path, ": ", tok.model().piece_size(), " pieces, T5 vocabulary ", tok.vocab_size(),
              " with the 100 sentinels");
  }

 private:
  static std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> parts(1);
    for (char ch : s) {
      if (ch == ',') parts.emplace_back();
      else parts.back().push_back(ch);
    }
    return parts;
  }

  std::string input_, passages_, output_dir_;
  int vocab_size_ = 32000;
  std::string model_type_ = "unigram";
  double character_coverage_ = 0.9995;
  int64_t input_sentence_size_ = 0;
  int64_t max_sentence_length_ = 1 << 16;
  bool split_digits_ = false;
  bool hard_vocab_limit_ = true;
};

}  // namespace
}  // namespace fid::cli

using fid::cli::TrainTokenizerCommand;
FID_REGISTER_COMMAND(TrainTokenizerCommand, "train-tokenizer")
