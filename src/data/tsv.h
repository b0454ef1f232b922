// Rows of DPR's passages TSV (`id\ttext\ttitle`). DPR's psgs_w100.tsv was
// written by Python's csv module: a field may be wrapped in double quotes,
// with "" standing for one quote, and may then hold tabs or newlines. FiD
// and DPR read it with csv.reader(delimiter='\t'), which is lenient (not
// strict): text after a closing quote is kept as it stands (`"Source" form`
// reads `Source form`), and a quote never closed takes the rest of the file
// into its field. Rows are read here exactly so, and marked `loose`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fid::data {

inline constexpr int kTsvColumns = 3;
// The columns' names, in their row order (the header may order them otherwise).
inline constexpr const char* kTsvColumnNames[kTsvColumns] = {"id", "text", "title"};

// One row as views into the scanned bytes; quoted fields keep their quotes
// until unquote_field().
struct TsvRow {
  size_t begin = 0;  // first byte of the row
  size_t end = 0;    // one past the row's newline (or the end of the data)
  int n_fields = 0;  // all fields found, even past kTsvColumns
  std::string_view fields[kTsvColumns];
  // Quoting that only a lenient reader accepts: text after a closing quote,
  // or a quote never closed (the field then runs to the end of the data).
  bool loose = false;
  bool unclosed_quote = false;
};

enum class TsvScan { kRow, kBlank, kNeedMore };

// Scans the row starting at data[pos]. kNeedMore: the row does not end within
// [pos, end) and more data exists (`at_eof` false). kBlank: an empty line
// (skipped by the readers; `row.end` is set).
TsvScan scan_tsv_row(const char* data, size_t pos, size_t end, bool at_eof, TsvRow& row);

// The field's text as Python's csv module reads it: a field that starts with
// a quote is read quoted ("" stands for ") up to its closing quote, and
// anything after that as it stands; any other field as it is.
void unquote_field(std::string_view field, std::string& out);
// True when the field was written with quotes.
inline bool is_quoted(std::string_view field) { return !field.empty() && field.front() == '"'; }

// What is wrong with a data row's columns ("" when it has id, text and
// title): names the first missing field, or the extra ones, and a quote
// never closed when that is why.
std::string tsv_column_problem(const TsvRow& row);

// Appends a field as Python's csv module (QUOTE_MINIMAL, tab delimiter)
// writes it: quoted only when it holds a tab, newline, carriage return or quote.
void append_tsv_field(std::string& out, std::string_view field);

// Which column holds id, text and title, from the header line.
struct TsvColumns {
  int id = 0;
  int text = 1;
  int title = 2;
};
// Reads the header row; throws (naming the file) unless it has exactly the
// columns id, text and title, in any order.
TsvColumns parse_tsv_header(const TsvRow& header, const std::string& path);

}  // namespace fid::data
