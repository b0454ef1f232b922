// `fid train-tokenizer`: a sentencepiece model (unigram or BPE) with T5's
// special-id layout (<pad>=0, </s>=1, <unk>=2, no <s>) trained on text files
// or on the text and title columns of a passages TSV, written as
// <output_dir>/spiece.model and checked to load as a T5 tokenizer.
#pragma once
#include <cstdint>
#include <string>

namespace fid::train {

struct TokenizerTrainOptions {
  std::string input;     // text file(s), one sentence per line, comma-separated
  std::string passages;  // or a passages TSV (id, text, title)
  std::string output_dir;
  int vocab_size = 32000;
  std::string model_type = "unigram";  // unigram | bpe
  double character_coverage = 0.9995;
  int64_t input_sentence_size = 0;     // sample at most this many sentences (0: all)
  int64_t max_sentence_length = 1 << 16;
  bool split_digits = false;
  bool hard_vocab_limit = true;
  int threads = 0;                     // 0: all cores

  void validate() const;
};

void train_tokenizer(const TokenizerTrainOptions& options);

}  // namespace fid::train
