#include "text/tokenizer_files.h"

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "text/bert_tokenizer.h"
#include "text/sentencepiece.h"

namespace fid::text {

std::string find_tokenizer_file(const std::string& path, std::initializer_list<const char*> names,
                                const std::string& flag) {
  if (!is_directory(path)) return path;
  std::string tried;
  for (const char* name : names) {
    const std::string file = join_path(path, name);
    if (path_exists(file)) return file;
    tried += (tried.empty() ? "" : " or ") + std::string(name);
  }
  FID_THROW(flag, " ", path, " is a directory without ", tried);
}

bool is_sentencepiece_file(const std::string& file) {
  return ends_with(file, ".model");
}

int64_t tokenizer_vocab_size(const std::string& file) {
  return is_sentencepiece_file(file) ? SentencePieceModel::load(file).piece_size()
                                     : BertTokenizer::load(file).vocab_size();
}

void copy_tokenizer_file(const std::string& file, const std::string& dir) {
  if (file.empty()) return;
  write_file_atomic(join_path(dir, is_sentencepiece_file(file) ? "spiece.model" : "vocab.txt"),
                    read_file(file));
}

}  // namespace fid::text
