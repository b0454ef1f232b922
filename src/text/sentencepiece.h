// A sentencepiece model used through libfid_spm (see spm_api.h): loading,
// encoding, piece lookups, detokenisation and training. Thread-safe after
// construction: encoding is const and keeps no shared state.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct fid_spm_model;

namespace fid::text {

// Where libfid_spm was found (loading it on first use); throws fid::Error
// listing the places tried when it is nowhere. Order: $FID_SPM_LIBRARY, next
// to the executable (../lib and its own directory), the build tree, the
// dynamic loader's search path.
std::string spm_library_path();

class SentencePieceModel {
 public:
  // Throws fid::Error naming the file when it is missing or not a model.
  static SentencePieceModel load(const std::string& path);
  static SentencePieceModel from_bytes(std::string_view serialized, const std::string& name);

  SentencePieceModel(SentencePieceModel&&) noexcept;
  SentencePieceModel& operator=(SentencePieceModel&&) noexcept;
  ~SentencePieceModel();

  int piece_size() const { return piece_size_; }
  // Piece text of a model id; throws for ids outside [0, piece_size).
  std::string_view id_to_piece(int id) const;
  // The unknown id when the piece is not in the model.
  int piece_to_id(std::string_view piece) const;
  bool is_control(int id) const;
  bool is_unknown(int id) const;

  // Appends the ids of `text` to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;
  // The same ids, computed word by word through a per-thread cache when the
  // model allows it (see word_split_exact): text repeats its words, and one
  // sentencepiece call costs more than a hash lookup.
  void encode_cached(std::string_view text, std::vector<int32_t>& out) const;
  // True when encoding "a b" equals encoding "a" then "b": pieces start
  // words (no "▁" inside or at the end of a piece) and a dummy "▁" prefix is
  // added, as in T5's models.
  bool word_split_exact() const { return word_split_exact_; }
  std::vector<int32_t> encode(std::string_view text) const;
  // Surface pieces (an unknown character keeps its own text).
  std::vector<std::string> encode_pieces(std::string_view text) const;
  std::string decode_pieces(const std::vector<std::string_view>& pieces) const;

  const std::string& name() const { return name_; }

 private:
  SentencePieceModel(fid_spm_model* handle, std::string name);
  fid_spm_model* handle_ = nullptr;
  std::string name_;
  int piece_size_ = 0;
  std::vector<uint8_t> piece_type_;  // 0 normal, 1 control, 2 unknown, 3 unused
  bool word_split_exact_ = false;
  uint64_t cache_key_ = 0;  // tells this model's cache entries from other models'
};

// Trains a model with sentencepiece's options (flag names without dashes,
// e.g. {"vocab_size", "8000"}). `next` yields training sentences (false at
// the end); when empty, the "input" option names the files. Returns the
// serialized model.
std::string train_sentencepiece(const std::map<std::string, std::string>& options,
                                const std::function<bool(std::string&)>& next);

}  // namespace fid::text
