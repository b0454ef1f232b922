#include "data/passage_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/passage_index_format.h"

namespace fid::data {

bool canonical_int(std::string_view s, int64_t* out) {
  const bool neg = !s.empty() && s[0] == '-';
  std::string_view d = neg ? s.substr(1) : s;
  // 18 digits always fit an int64; longer ids stay strings.
  if (d.empty() || d.size() > 18 || (d[0] == '0' && (d.size() > 1 || neg))) return false;
  int64_t v = 0;
  for (char c : d) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = neg ? -v : v;
  return true;
}

PassageIndex::~PassageIndex() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

bool PassageIndex::attach(const char* base, size_t size, std::string* why) {
  IndexHeader h;
  if (size < kHeaderBytes) {
    *why = "it is too short to be a passage index";
    return false;
  }
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, kPassageIndexMagic, sizeof h.magic) != 0) {
    *why = "it is not a passage index (bad magic)";
    return false;
  }
  if (h.version != kPassageIndexVersion) {
    *why = detail::concat("it has format version ", h.version, ", this program uses ",
                          kPassageIndexVersion);
    return false;
  }
  if (h.fingerprint_len > sizeof h.fingerprint || h.n_rows >= (uint64_t{1} << 32) ||
      index_file_size(h) != size) {
    *why = "it is damaged (its size does not match its header)";
    return false;
  }
  n_rows_ = static_cast<int64_t>(h.n_rows);
  numeric_ = (h.flags & kNumericIds) != 0;
  dense_ = (h.flags & kDenseIds) != 0;
  first_id_ = h.first_id;
  columns_ = {h.columns[0], h.columns[1], h.columns[2]};
  fingerprint_.assign(h.fingerprint, h.fingerprint_len);
  const char* p = base + kHeaderBytes;
  offsets_ = reinterpret_cast<const uint64_t*>(p);
  p += 8 * (h.n_rows + 1);
  if (!dense_) {
    order_ = reinterpret_cast<const uint32_t*>(p);
    p += align8(4 * h.n_rows);
    if (numeric_) {
      sorted_ids_ = reinterpret_cast<const int64_t*>(p);
    } else {
      id_ends_ = reinterpret_cast<const uint64_t*>(p);
      blob_ = p + 8 * h.n_rows;
    }
  }
  return true;
}

std::unique_ptr<PassageIndex> PassageIndex::open(const std::string& tsv,
                                                 const std::string& index_path, bool* built) {
  const std::string fingerprint = file_fingerprint(tsv);  // also reports a missing TSV
  std::unique_ptr<PassageIndex> index(new PassageIndex());
  std::string why;
  const int fd = ::open(index_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st{};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
      if (map != MAP_FAILED) {
        index->map_ = map;
        index->map_size_ = static_cast<size_t>(st.st_size);
      }
    }
    ::close(fd);
    if (index->map_ == nullptr) {
      why = "it cannot be mapped";
    } else if (index->attach(static_cast<const char*>(index->map_), index->map_size_, &why)) {
      if (index->fingerprint_ == fingerprint) {
        if (built) *built = false;
        return index;
      }
      why = "the passages file changed since it was built";
    }
    log::info("passage index '", index_path, "' is not usable (", why, "): rebuilding it");
    index.reset(new PassageIndex());
  }
  log::info("indexing passages '", tsv, "' (one pass over the file)");
  index->owned_ = build_image(tsv);
  FID_CHECK(index->attach(index->owned_.data(), index->owned_.size(), &why),
            "internal error: a freshly built passage index is invalid: ", why);
  try {
    write_file_atomic(index_path, index->owned_);
  } catch (const Error& e) {
    log::warn("cannot save the passage index next to the passages (", e.what(),
              "); it is kept in memory and will be rebuilt next time");
  }
  if (built) *built = true;
  return index;
}

int64_t PassageIndex::find(std::string_view id) const {
  int64_t v = 0;
  if (dense_ || numeric_) {
    if (!canonical_int(id, &v)) return -1;
    if (dense_) {
      // Compared as unsigned so that ids below first_id wrap to a huge row.
      const uint64_t row = static_cast<uint64_t>(v) - static_cast<uint64_t>(first_id_);
      return row < static_cast<uint64_t>(n_rows_) ? static_cast<int64_t>(row) : -1;
    }
    const int64_t* end = sorted_ids_ + n_rows_;
    const int64_t* it = std::lower_bound(sorted_ids_, end, v);
    return (it != end && *it == v) ? static_cast<int64_t>(order_[it - sorted_ids_]) : -1;
  }
  // String ids: binary search over the sorted blob entries.
  int64_t lo = 0, hi = n_rows_;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    const uint64_t b = mid ? id_ends_[mid - 1] : 0;
    const std::string_view s(blob_ + b, id_ends_[mid] - b);
    if (s < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == n_rows_) return -1;
  const uint64_t b = lo ? id_ends_[lo - 1] : 0;
  return std::string_view(blob_ + b, id_ends_[lo] - b) == id ? static_cast<int64_t>(order_[lo]) : -1;
}

}  // namespace fid::data
