#include "data/tsv.h"

#include <cstring>

#include "common/error.h"
#include "data/diagnose.h"

namespace fid::data {

TsvScan scan_tsv_row(const char* data, size_t pos, size_t end, bool at_eof, TsvRow& row) {
  row.begin = pos;
  row.n_fields = 0;
  if (pos < end && (data[pos] == '\n' || (data[pos] == '\r' && pos + 1 < end && data[pos + 1] == '\n'))) {
    row.end = pos + (data[pos] == '\n' ? 1 : 2);
    return TsvScan::kBlank;
  }
  size_t i = pos;
  // The newline that ends an unquoted field, found once per row (and again
  // only after a quoted field that spans lines).
  size_t nl = pos;
  bool nl_valid = false;
  for (;;) {
    size_t field_end;
    size_t next;  // where the following field or row starts
    if (i < end && data[i] == '"') {
      size_t j = i + 1;
      for (;;) {
        const void* q = std::memchr(data + j, '"', end - j);
        if (q == nullptr) {
          row.end = end;
          return at_eof ? TsvScan::kBadQuote : TsvScan::kNeedMore;
        }
        j = static_cast<size_t>(static_cast<const char*>(q) - data) + 1;
        if (j < end && data[j] == '"') {
          ++j;  // "" inside a quoted field
          continue;
        }
        if (j == end && !at_eof) return TsvScan::kNeedMore;
        break;
      }
      field_end = j;
      next = j;
      if (next < end && data[next] == '\r') ++next;
      if (next < end && data[next] != '\t' && data[next] != '\n') {
        row.end = next;
        return TsvScan::kBadQuote;
      }
      if (next == end && !at_eof) return TsvScan::kNeedMore;
      nl_valid = false;
    } else {
      if (!nl_valid || nl < i) {
        const void* q = std::memchr(data + i, '\n', end - i);
        if (q == nullptr && !at_eof) return TsvScan::kNeedMore;
        nl = q ? static_cast<size_t>(static_cast<const char*>(q) - data) : end;
        nl_valid = true;
      }
      const void* t = std::memchr(data + i, '\t', nl - i);
      field_end = t ? static_cast<size_t>(static_cast<const char*>(t) - data) : nl;
      next = field_end;
      if (next == nl && field_end > i && data[field_end - 1] == '\r') --field_end;  // CRLF files
    }
    if (row.n_fields < kTsvColumns) row.fields[row.n_fields] = std::string_view(data + i, field_end - i);
    ++row.n_fields;
    if (next < end && data[next] == '\t') {
      i = next + 1;
      continue;
    }
    row.end = next < end ? next + 1 : end;  // past the newline
    return TsvScan::kRow;
  }
}

void unquote_field(std::string_view field, std::string& out) {
  if (!is_quoted(field)) {
    out.assign(field.data(), field.size());
    return;
  }
  out.clear();
  std::string_view body = field.substr(1, field.size() >= 2 ? field.size() - 2 : 0);
  for (;;) {
    const size_t q = body.find('"');
    if (q == std::string_view::npos) {
      out.append(body.data(), body.size());
      return;
    }
    out.append(body.data(), q + 1);  // one quote stands for the pair ""
    body.remove_prefix(std::min(body.size(), q + 2));
  }
}

void append_tsv_field(std::string& out, std::string_view field) {
  if (field.find_first_of("\t\n\r\"") == std::string_view::npos) {
    out.append(field.data(), field.size());
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

TsvColumns parse_tsv_header(const TsvRow& header, const std::string& path) {
  const char* hint = " (a DPR passages file starts with the line `id<TAB>text<TAB>title`)";
  FID_CHECK(header.n_fields == kTsvColumns, "'", path, "' line 1: the header has ", header.n_fields,
            " columns, expected 3", hint);
  TsvColumns cols{-1, -1, -1};
  for (int c = 0; c < kTsvColumns; ++c) {
    std::string name;
    unquote_field(header.fields[c], name);
    if (name == "id" && cols.id < 0) {
      cols.id = c;
    } else if (name == "text" && cols.text < 0) {
      cols.text = c;
    } else if (name == "title" && cols.title < 0) {
      cols.title = c;
    } else {
      FID_THROW("'", path, "' line 1: unexpected header column '", excerpt(name.data(), name.size()),
                "'", hint);
    }
  }
  return cols;
}

}  // namespace fid::data
