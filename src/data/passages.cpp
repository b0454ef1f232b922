#include "data/passages.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/files.h"
#include "data/diagnose.h"
#include "data/passage_index.h"

namespace fid::data {
namespace {

// Fills `out` from a scanned row; `where` is called only to name the place
// in an error.
template <typename Where>
void to_passage(const TsvRow& row, const TsvColumns& cols, Passage& out, Where where) {
  const std::string columns = tsv_column_problem(row);
  if (!columns.empty()) FID_THROW(where(), ": ", columns);
  const int idx[3] = {cols.id, cols.text, cols.title};
  std::string* dst[3] = {&out.id, &out.text, &out.title};
  for (int k = 0; k < kTsvColumns; ++k) {
    const std::string_view f = row.fields[idx[k]];
    if (!valid_utf8(f.data(), f.size())) {
      FID_THROW(where(), ": field '", kTsvColumnNames[k], "' holds invalid UTF-8 (\"",
                excerpt(f.data(), f.size()), "\"); the passages file must be UTF-8 encoded");
    }
    unquote_field(f, *dst[k]);
  }
}

}  // namespace

PassageStore::PassageStore(const std::string& tsv_path, const std::string& index_path)
    : path_(tsv_path), index_path_(index_path.empty() ? tsv_path + ".fidx" : index_path) {
  FID_CHECK(path_exists(path_), "passages file '", path_, "' does not exist (check the path)");
  index_ = PassageIndex::open(path_, index_path_, &built_);
  FID_CHECK(index_->rows() > 0, "passages file '", path_, "' holds no passages (a header only?): "
            "nothing could be embedded, indexed or retrieved; give a TSV with id, text, title rows");
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  FID_CHECK(fd_ >= 0, "cannot open passages file '", path_, "': ", std::strerror(errno));
}

PassageStore::~PassageStore() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t PassageStore::size() const { return index_->rows(); }
int64_t PassageStore::row_of(std::string_view id) const { return index_->find(id); }
uint64_t PassageStore::row_offset(int64_t r) const { return index_->offset(r); }
TsvColumns PassageStore::columns() const { return index_->columns(); }

void PassageStore::read_row(int64_t r, Passage& out) const {
  FID_CHECK(r >= 0 && r < size(), "passage row ", r, " is out of range: '", path_, "' has ", size(),
            " passages");
  const uint64_t begin = index_->offset(r);
  const size_t len = static_cast<size_t>(index_->offset(r + 1) - begin);
  // One buffer per thread: lookups are concurrent-safe (pread) and allocation-free.
  thread_local std::string buf;
  buf.resize(len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd_, buf.data() + got, len - got, static_cast<off_t>(begin + got));
    if (n < 0 && errno == EINTR) continue;
    FID_CHECK(n > 0, "cannot read passage row ", r, " of '", path_, "': ",
              n == 0 ? "unexpected end of file (was the file truncated after indexing?)"
                     : std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  TsvRow row;
  const TsvScan s = scan_tsv_row(buf.data(), 0, len, true, row);
  auto where = [&] {
    return detail::concat("'", path_, "' line ", line_of_offset(path_, static_cast<int64_t>(begin)),
                          " (passage row ", r, "; was the file changed after indexing?)");
  };
  if (s != TsvScan::kRow) FID_THROW(where(), ": the row is not a well-formed passage");
  to_passage(row, index_->columns(), out, where);
}

Passage PassageStore::row(int64_t r) const {
  Passage p;
  read_row(r, p);
  return p;
}

bool PassageStore::find(std::string_view id, Passage& out) const {
  const int64_t r = row_of(id);
  if (r < 0) return false;
  read_row(r, out);
  // The fingerprint samples the file's ends only; an edit in the middle that
  // keeps the size would move rows under the index. The id check catches it.
  FID_CHECK(out.id == id, "passage row ", r, " of '", path_, "' holds id '", out.id, "', the index says '",
            id, "': the file changed after indexing; delete '", index_path_, "' to rebuild it");
  return true;
}

Passage PassageStore::get(std::string_view id) const {
  Passage p;
  FID_CHECK(find(id, p), "passage id '", id, "' is not in '", path_,
            "' (do the retrieval results come from another passages file?)");
  return p;
}

PassageReader::PassageReader(const std::string& tsv_path, size_t buffer_bytes)
    : in_(tsv_path, "passages file", buffer_bytes, 0) {
  in_.refill(0);
  if (in_.size() >= 3 && std::memcmp(in_.buf(), "\xEF\xBB\xBF", 3) == 0) in_.pos = 3;
  TsvRow row;
  for (;;) {
    if (in_.pos >= in_.size() && !in_.refill(in_.pos)) {
      FID_THROW("'", tsv_path, "' is empty: a passages file needs the header `id\\ttext\\ttitle`");
    }
    const TsvScan s = scan_tsv_row(in_.buf(), in_.pos, in_.size(), in_.at_eof(), row);
    if (s == TsvScan::kNeedMore) {
      in_.refill(in_.pos);
      continue;
    }
    in_.pos = row.end;
    if (s == TsvScan::kBlank) continue;
    FID_CHECK(s == TsvScan::kRow, "'", tsv_path, "' line 1: the header is not a valid TSV row");
    columns_ = parse_tsv_header(row, tsv_path);
    return;
  }
}

PassageReader::PassageReader(const PassageStore& store, int64_t begin_row, int64_t end_row,
                             size_t buffer_bytes)
    : in_(store.path(), "passages file", buffer_bytes, 0,
          static_cast<int64_t>(store.row_offset(std::clamp<int64_t>(begin_row, 0, store.size()))),
          static_cast<int64_t>(store.row_offset(std::clamp<int64_t>(end_row, 0, store.size())))),
      columns_(store.columns()),
      row_(begin_row),
      end_row_(end_row) {
  FID_CHECK(begin_row >= 0 && begin_row <= end_row && end_row <= store.size(), "passage rows [",
            begin_row, ", ", end_row, ") are not a range of the ", store.size(), " rows of '",
            store.path(), "'");
}

bool PassageReader::next(Passage& out) {
  TsvRow row;
  for (;;) {
    if (end_row_ >= 0 && row_ >= end_row_) return false;
    if (in_.pos >= in_.size() && !in_.refill(in_.pos)) return false;
    const TsvScan s = scan_tsv_row(in_.buf(), in_.pos, in_.size(), in_.at_eof(), row);
    if (s == TsvScan::kNeedMore) {
      in_.refill(in_.pos);
      continue;
    }
    if (s == TsvScan::kBlank) {
      in_.pos = row.end;
      continue;
    }
    const int64_t offset = in_.offset_of(row.begin);
    auto where = [&] {
      return detail::concat("'", in_.path(), "' line ", line_of_offset(in_.path(), offset),
                            " (passage row ", row_, ")");
    };
    to_passage(row, columns_, out, where);
    in_.pos = row.end;
    ++row_;
    return true;
  }
}

PassageWriter::PassageWriter(const std::string& path) : out_(path) {
  out_.buffer() += "id\ttext\ttitle\n";
}

void PassageWriter::write(const Passage& p) {
  const std::string* fields[3] = {&p.id, &p.text, &p.title};
  for (int k = 0; k < kTsvColumns; ++k) {
    const std::string& f = *fields[k];
    FID_CHECK(valid_utf8(f.data(), f.size()), "passage '", p.id, "': field '", kTsvColumnNames[k],
              "' is not valid UTF-8; fix the text before writing '", out_.path(), "'");
  }
  FID_CHECK(!p.id.empty(), "writing '", out_.path(), "': a passage has an empty id");
  std::string& b = out_.buffer();
  append_tsv_field(b, p.id);
  b += '\t';
  append_tsv_field(b, p.text);
  b += '\t';
  append_tsv_field(b, p.title);
  b += '\n';
  ++count_;
  out_.maybe_flush();
}

}  // namespace fid::data
