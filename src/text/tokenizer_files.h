// Where a tokenizer lives on disk: a spiece.model (sentencepiece) or
// vocab.txt (WordPiece) file, given as the file or as a directory holding
// one. One place for init-model's --tokenizer of every architecture.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

namespace fid::text {

// `path` itself when it is not a directory, else the first of `names` in it;
// an error naming `flag` when the directory holds none of them.
std::string find_tokenizer_file(const std::string& path, std::initializer_list<const char*> names,
                                const std::string& flag = "--tokenizer");

bool is_sentencepiece_file(const std::string& file);  // *.model

// Pieces of a sentencepiece model, or tokens of a vocab.txt.
int64_t tokenizer_vocab_size(const std::string& file);

// Copies the file into `dir` under the name a model directory uses for its
// kind (spiece.model or vocab.txt), atomically; nothing for "".
void copy_tokenizer_file(const std::string& file, const std::string& dir);

}  // namespace fid::text
