// Building a passage index: one pass over the TSV that records each row's
// offset and id and checks the row (column count, quoting, UTF-8), then a
// sort of the ids that finds duplicates.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/file_io.h"
#include "data/diagnose.h"
#include "data/passage_index.h"
#include "data/passage_index_format.h"

namespace fid::data {
namespace {

struct Collected {
  std::vector<uint64_t> offsets;
  std::vector<uint64_t> id_ends;  // ends of each row's id in `blob`, row order
  std::string blob;
  std::vector<int64_t> numbers;   // the ids as integers while all are canonical
  bool numeric = true;
  TsvColumns columns;
  uint64_t data_end = 0;
  int64_t loose_rows = 0;   // quoting only a lenient reader accepts
  std::string first_loose;  // where the first of them is
};

std::string_view id_of(const Collected& c, size_t row) {
  const uint64_t b = row ? c.id_ends[row - 1] : 0;
  return std::string_view(c.blob.data() + b, c.id_ends[row] - b);
}

std::string where(const std::string& tsv, uint64_t offset, size_t row) {
  return detail::concat("'", tsv, "' line ", line_of_offset(tsv, static_cast<int64_t>(offset)),
                        " (passage row ", row, ")");
}

// Checks one data row and records it.
void add_row(const std::string& tsv, const TsvRow& row, uint64_t offset, const char* base,
             Collected& c, std::string& scratch) {
  const size_t r = c.offsets.size();
  const std::string columns = tsv_column_problem(row);
  if (!columns.empty()) FID_THROW(where(tsv, offset, r), ": ", columns);
  if (!valid_utf8(base + row.begin, row.end - row.begin)) {
    const int cols[3] = {c.columns.id, c.columns.text, c.columns.title};
    for (int k = 0; k < kTsvColumns; ++k) {
      const std::string_view f = row.fields[cols[k]];
      if (!valid_utf8(f.data(), f.size())) {
        FID_THROW(where(tsv, offset, r), ": field '", kTsvColumnNames[k], "' holds invalid UTF-8 (\"",
                  excerpt(f.data(), f.size()), "\"); the passages file must be UTF-8 encoded");
      }
    }
  }
  unquote_field(row.fields[c.columns.id], scratch);
  FID_CHECK(!scratch.empty(), where(tsv, offset, r), ": field 'id' is empty; every passage needs an id");
  c.offsets.push_back(offset);
  c.blob += scratch;
  c.id_ends.push_back(c.blob.size());
  int64_t v;
  if (c.numeric && canonical_int(scratch, &v)) {
    c.numbers.push_back(v);
  } else if (c.numeric) {
    c.numeric = false;
    std::vector<int64_t>().swap(c.numbers);
  }
}

Collected scan(const std::string& tsv) {
  Collected c;
  BufferedFile in(tsv, "passages file", 16u << 20, 0);
  in.refill(0);
  if (in.size() >= 3 && std::memcmp(in.buf(), "\xEF\xBB\xBF", 3) == 0) in.pos = 3;
  bool have_header = false;
  TsvRow row;
  std::string scratch;
  for (;;) {
    if (in.pos >= in.size() && !in.refill(in.pos)) break;
    const TsvScan s = scan_tsv_row(in.buf(), in.pos, in.size(), in.at_eof(), row);
    if (s == TsvScan::kNeedMore) {
      in.refill(in.pos);
      continue;
    }
    const uint64_t offset = static_cast<uint64_t>(in.offset_of(row.begin));
    if (s == TsvScan::kRow && row.loose && have_header) {
      if (c.loose_rows++ == 0) c.first_loose = where(tsv, offset, c.offsets.size());
    }
    if (s == TsvScan::kRow) {
      if (!have_header) {
        c.columns = parse_tsv_header(row, tsv);
        have_header = true;
      } else {
        add_row(tsv, row, offset, in.buf(), c, scratch);
      }
    }
    in.pos = row.end;
  }
  FID_CHECK(have_header, "'", tsv, "' is empty: a passages file needs the header `id\\ttext\\ttitle`");
  if (c.loose_rows > 0) {
    log::info("'", tsv, "': ", c.loose_rows, " rows are quoted loosely: text after a closing quote, or a quote never closed (first: ", c.first_loose,
              "); read as Python's csv module, and so FiD and DPR, read them");
  }
  c.data_end = static_cast<uint64_t>(in.offset_of(in.size()));
  return c;
}

template <typename T>
void put(std::string& image, const T* data, size_t n) {
  image.append(reinterpret_cast<const char*>(data), n * sizeof(T));
  image.resize(align8(image.size()), '\0');
}

[[noreturn]] void duplicate(const std::string& tsv, const Collected& c, uint32_t a, uint32_t b) {
  FID_THROW("'", tsv, "': duplicate passage id '", id_of(c, a), "' at passage rows ", a, " and ", b,
            " (lines ", line_of_offset(tsv, static_cast<int64_t>(c.offsets[a])), " and ",
            line_of_offset(tsv, static_cast<int64_t>(c.offsets[b])),
            "); passage ids must be unique");
}

}  // namespace

std::string PassageIndex::build_image(const std::string& tsv) {
  const std::string fingerprint = file_fingerprint(tsv);
  Collected c = scan(tsv);
  const size_t n = c.offsets.size();
  FID_CHECK(n < (uint64_t{1} << 32), "'", tsv, "' has ", n, " passages; an index holds at most 2^32");
  IndexHeader h{};
  std::memcpy(h.magic, kPassageIndexMagic, sizeof h.magic);
  h.version = kPassageIndexVersion;
  h.n_rows = n;
  h.tsv_size = c.data_end;
  h.columns[0] = static_cast<uint8_t>(c.columns.id);
  h.columns[1] = static_cast<uint8_t>(c.columns.text);
  h.columns[2] = static_cast<uint8_t>(c.columns.title);
  h.fingerprint_len = static_cast<uint32_t>(std::min(fingerprint.size(), sizeof h.fingerprint));
  std::memcpy(h.fingerprint, fingerprint.data(), h.fingerprint_len);
  bool dense = c.numeric && n > 0;
  for (size_t r = 1; dense && r < n; ++r) dense = c.numbers[r] == c.numbers[0] + static_cast<int64_t>(r);
  h.flags = (c.numeric ? kNumericIds : 0) | (dense ? kDenseIds : 0);
  h.first_id = dense ? c.numbers[0] : 0;

  std::string image(kHeaderBytes, '\0');
  c.offsets.push_back(c.data_end);
  put(image, c.offsets.data(), c.offsets.size());
  if (!dense) {
    // Rows by id; ties by row, so a duplicate is reported at its first rows.
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    if (c.numeric) {
      std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return c.numbers[a] != c.numbers[b] ? c.numbers[a] < c.numbers[b] : a < b;
      });
    } else {
      std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const auto sa = id_of(c, a), sb = id_of(c, b);
        return sa != sb ? sa < sb : a < b;
      });
    }
    for (size_t k = 1; k < n; ++k) {
      if (id_of(c, order[k - 1]) == id_of(c, order[k])) duplicate(tsv, c, order[k - 1], order[k]);
    }
    put(image, order.data(), n);
    if (c.numeric) {
      std::vector<int64_t> sorted(n);
      for (size_t k = 0; k < n; ++k) sorted[k] = c.numbers[order[k]];
      put(image, sorted.data(), n);
    } else {
      std::vector<uint64_t> ends(n);
      std::string blob;
      blob.reserve(c.blob.size());
      for (size_t k = 0; k < n; ++k) {
        blob += id_of(c, order[k]);
        ends[k] = blob.size();
      }
      put(image, ends.data(), n);
      h.blob_size = blob.size();
      put(image, blob.data(), blob.size());
    }
  }
  std::memcpy(image.data(), &h, sizeof h);
  FID_CHECK_EQ(image.size(), index_file_size(h), "internal error: passage index size");
  return image;
}

}  // namespace fid::data
