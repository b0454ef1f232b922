// A padded batch of token sequences in plain row-major vectors, so that
// fid_text stays free of LibTorch; model code wraps these in tensors.
#pragma once
#include <algorithm>
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

// Rows of ids (and, when given, their segment ids) right-padded with pad_id
// into one batch, to max_length or to the longest row as `options` says.
inline TokenBatch pad_rows(const std::vector<std::vector<int32_t>>& ids,
                           const std::vector<std::vector<int32_t>>* type_ids,
                           const BatchOptions& options, int64_t pad_id) {
  size_t longest = 0;
  for (const auto& row : ids) longest = std::max(longest, row.size());
  TokenBatch batch;
  batch.rows = static_cast<int64_t>(ids.size());
  batch.length = options.pad_to_max_length && options.max_length > 0 ? options.max_length
                                                                      : static_cast<int64_t>(longest);
  const auto len = static_cast<size_t>(batch.length);
  batch.ids.assign(ids.size() * len, pad_id);
  batch.mask.assign(ids.size() * len, 0);
  if (type_ids != nullptr) batch.type_ids.assign(ids.size() * len, 0);
  for (size_t r = 0; r < ids.size(); ++r) {
    for (size_t c = 0; c < ids[r].size(); ++c) {
      batch.ids[r * len + c] = ids[r][c];
      batch.mask[r * len + c] = 1;
      if (type_ids != nullptr) batch.type_ids[r * len + c] = (*type_ids)[r][c];
    }
  }
  return batch;
}

}  // namespace fid::text
