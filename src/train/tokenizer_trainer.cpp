#include "train/tokenizer_trainer.h"

#include <map>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/passages.h"
#include "text/t5_tokenizer.h"

namespace fid::train {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> parts(1);
  for (char ch : s) {
    if (ch == ',') parts.emplace_back();
    else parts.back().push_back(ch);
  }
  return parts;
}

}  // namespace

void TokenizerTrainOptions::validate() const {
  FID_CHECK(input.empty() != passages.empty(), "give exactly one of --input (text) and --passages (DPR TSV)");
  FID_CHECK(vocab_size > 3, "--vocab_size must exceed the 3 special pieces, got ", vocab_size);
  FID_CHECK(character_coverage > 0 && character_coverage <= 1, "--character_coverage must be in (0, 1], got ",
            character_coverage);
  FID_CHECK(input_sentence_size >= 0, "--input_sentence_size must be >= 0");
  FID_CHECK(model_type == "unigram" || model_type == "bpe", "--model_type must be unigram or bpe, not '",
            model_type, "'");
  for (const std::string& f : input.empty() ? std::vector<std::string>{} : split_commas(input))
    FID_CHECK(path_exists(f), "--input file ", f, " does not exist");
}

void train_tokenizer(const TokenizerTrainOptions& o) {
  o.validate();
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::map<std::string, std::string> opts = {
      {"model_type", o.model_type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"input_sentence_size", std::to_string(o.input_sentence_size)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", std::to_string(o.max_sentence_length)},
      {"hard_vocab_limit", o.hard_vocab_limit ? "true" : "false"},
      {"split_digits", o.split_digits ? "true" : "false"},
      {"num_threads", std::to_string(threads)},
      // T5's layout: pad 0, eos 1, unk 2 and no bos.
      {"pad_id", "0"}, {"eos_id", "1"}, {"unk_id", "2"}, {"bos_id", "-1"},
      {"pad_piece", "<pad>"}, {"eos_piece", "</s>"}, {"unk_piece", "<unk>"}};
  make_directories(o.output_dir);

  std::string model;
  if (!o.input.empty()) {
    opts["input"] = o.input;
    log::info("training a ", o.model_type, " sentencepiece model of ", o.vocab_size, " pieces on ", o.input);
    model = text::train_sentencepiece(opts, {});
  } else {
    data::PassageReader reader(o.passages);
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
    log::info("training a ", o.model_type, " sentencepiece model of ", o.vocab_size, " pieces on ", o.passages);
    model = text::train_sentencepiece(opts, next);
    log::info("read ", passages, " passages");
  }
  const std::string path = join_path(o.output_dir, "spiece.model");
  write_file_atomic(path, model);
  // What was written must load as a T5 tokenizer.
  text::T5Tokenizer tok = text::T5Tokenizer::load(path);
  log::info("wrote ", path, ": ", tok.model().piece_size(), " pieces, T5 vocabulary ", tok.vocab_size(),
            " with the 100 sentinels");
}

}  // namespace fid::train
