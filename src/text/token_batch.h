// A padded batch of token sequences in plain row-major vectors, so that
// fid_text stays free of LibTorch; model code wraps these in tensors.
#pragma once
#include <cstdint>
#include <vector>

namespace fid::text {

struct TokenBatch {
  int64_t rows = 0;
  int64_t length = 0;
  std::vector<int64_t> ids;       // (rows, length), right-padded with the pad id
  std::vector<int64_t> mask;      // (rows, length), 1 for tokens, 0 for padding
  std::vector<int64_t> type_ids;  // (rows, length), BERT segment ids; empty for T5

  int64_t at(int64_t row, int64_t col) const { return ids[static_cast<size_t>(row * length + col)]; }
};

// Truncation and padding of batch encoding, as batch_encode_plus does it.
struct BatchOptions {
  // Longest sequence kept, special tokens included; <= 0: no truncation.
  int64_t max_length = 0;
  // true: every row padded to max_length (pad_to_max_length=True); false,
  // or max_length <= 0: rows padded to the batch's longest.
  bool pad_to_max_length = true;
};

}  // namespace fid::text
