// The byte-offset index of a passages TSV, saved next to it as <tsv>.fidx:
// built once by a full scan (which also checks every row), then memory-mapped
// by every rank that needs random access to passages by id or by row.
//
// File layout (native little-endian, sections 8-byte aligned):
//   IndexHeader (128 bytes: magic "FIDPIDX", version, flags, the TSV's
//   fingerprint, row count, header columns)
//   u64 row_offsets[n_rows + 1]       byte offset of each row; the last is the data end
//   unless kDenseIds:
//     u32 order[n_rows]               rows sorted by id
//     kNumericIds: i64 sorted_ids[n_rows]
//     else:        u64 id_ends[n_rows] (ends in the blob, sorted order), char blob[]
// kDenseIds (DPR's ids 1..N in file order) needs no id section at all.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "data/tsv.h"

namespace fid::data {

inline constexpr uint32_t kPassageIndexVersion = 1;

class PassageIndex {
 public:
  // The index for `tsv`: loaded from `index_path` when that file is an index
  // of this TSV's current content (same fingerprint), else built and saved
  // atomically (kept in memory only, with a warning, when the directory is not
  // writable). `*built` tells which happened.
  static std::unique_ptr<PassageIndex> open(const std::string& tsv, const std::string& index_path,
                                            bool* built = nullptr);
  // Builds the index image by scanning the TSV; throws on bad rows and duplicate ids.
  static std::string build_image(const std::string& tsv);
  ~PassageIndex();

  int64_t rows() const { return n_rows_; }
  // The row holding passage `id`, or -1.
  int64_t find(std::string_view id) const;
  // Byte offset of a row in the TSV; offset(rows()) is the end of the last row.
  uint64_t offset(int64_t row) const { return offsets_[row]; }
  TsvColumns columns() const { return columns_; }
  bool numeric_ids() const { return numeric_; }
  bool dense_ids() const { return dense_; }

 private:
  PassageIndex() = default;
  // Points the section pointers into `base`; false when the bytes are not a
  // complete index of this version (the caller rebuilds).
  bool attach(const char* base, size_t size, std::string* why);

  std::string owned_;         // the image, when not memory-mapped
  void* map_ = nullptr;
  size_t map_size_ = 0;
  int64_t n_rows_ = 0;
  const uint64_t* offsets_ = nullptr;
  const uint32_t* order_ = nullptr;
  const int64_t* sorted_ids_ = nullptr;
  const uint64_t* id_ends_ = nullptr;
  const char* blob_ = nullptr;
  int64_t first_id_ = 0;
  bool numeric_ = false;
  bool dense_ = false;
  TsvColumns columns_;
  std::string fingerprint_;
};

// A passage id as an int64 when it is written canonically ("0", "17",
// "-3": no sign or leading zeros otherwise); numeric indexes hold only such ids.
bool canonical_int(std::string_view s, int64_t* out);

}  // namespace fid::data
