#include "data/tsv.h"

#include <cstring>

#include "common/error.h"
#include "data/diagnose.h"

namespace fid::data {

TsvScan scan_tsv_row(const char* data, size_t pos, size_t end, bool at_eof, TsvRow& row) {
  row.begin = pos;
  row.n_fields = 0;
  row.loose = false;
  row.unclosed_quote = false;
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
          if (!at_eof) return TsvScan::kNeedMore;
          // Never closed: Python's reader takes the rest of the data.
          if (row.n_fields < kTsvColumns) row.fields[row.n_fields] = std::string_view(data + i, end - i);
          ++row.n_fields;
          row.loose = row.unclosed_quote = true;
          row.end = end;
          return TsvScan::kRow;
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
        // Text after the closing quote: kept as it stands, up to the next
        // tab or newline (quotes there are plain characters).
        row.loose = true;
        size_t k = j;
        while (k < end && data[k] != '\t' && data[k] != '\n') ++k;
        if (k == end && !at_eof) return TsvScan::kNeedMore;
        field_end = next = k;
        if (next < end && data[next] == '\n' && field_end > j && data[field_end - 1] == '\r') --field_end;
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
  size_t i = 1;
  for (; i < field.size(); ++i) {
    if (field[i] != '"') {
      out.push_back(field[i]);
    } else if (i + 1 < field.size() && field[i + 1] == '"') {
      out.push_back('"');  // "" stands for one quote
      ++i;
    } else {
      ++i;  // the closing quote; what follows is kept as it stands
      break;
    }
  }
  if (i < field.size()) out.append(field.data() + i, field.size() - i);
}

std::string tsv_column_problem(const TsvRow& row) {
  if (row.n_fields == kTsvColumns) return "";
  return detail::concat("field '", row.n_fields < kTsvColumns ? kTsvColumnNames[row.n_fields] : "title", "': the row has ",
                        row.n_fields, " columns, expected 3 (id, text, title separated by tabs)",
                        row.unclosed_quote ? "; a quote opened in this row is never closed, so (as Python's csv "
                                             "module reads it) its field runs to the end of the file"
                                           : "");
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
