// The on-disk header of a passage index (see passage_index.h for the layout);
// shared by the code that builds an index and the code that maps one.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fid::data {

inline constexpr char kPassageIndexMagic[8] = {'F', 'I', 'D', 'P', 'I', 'D', 'X', '\0'};
inline constexpr uint32_t kNumericIds = 1;
inline constexpr uint32_t kDenseIds = 2;

struct IndexHeader {
  char magic[8];
  uint32_t version;
  uint32_t flags;
  uint64_t n_rows;
  uint64_t tsv_size;
  int64_t first_id;      // kDenseIds: the id of row 0
  uint8_t columns[4];    // header column of id, text, title
  uint32_t fingerprint_len;
  char fingerprint[64];  // fid::file_fingerprint of the TSV when indexed
  uint64_t blob_size;    // string ids: bytes of the id blob
};
static_assert(sizeof(IndexHeader) == 120, "the index header layout is part of the file format");
inline constexpr size_t kHeaderBytes = 128;  // the header padded to a round size

inline size_t align8(size_t n) { return (n + 7) & ~size_t{7}; }

// Byte size of the file that a header describes.
inline size_t index_file_size(const IndexHeader& h) {
  size_t n = kHeaderBytes + 8 * (h.n_rows + 1);
  if (h.flags & kDenseIds) return n;
  n += align8(4 * h.n_rows);
  if (h.flags & kNumericIds) return n + 8 * h.n_rows;
  return n + 8 * h.n_rows + align8(h.blob_size);
}

}  // namespace fid::data
