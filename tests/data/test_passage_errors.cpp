// Each kind of bad passages file gets a fid::Error naming the file, the line
// (and passage row) and the field.
#include <gtest/gtest.h>

#include "common/files.h"
#include "data/passages.h"
#include "error_helpers.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

using test::error_of;
using test::expect_mentions;

// `by_row`: the problem is in one row, so the sequential reader (which reads
// without an index) reports it too; duplicates need the whole file.
std::string open_error(const std::string& text, bool by_row = true) {
  testing::TempDir dir;
  const std::string path = dir.file("psgs.tsv");
  testing::write_text(path, text);
  const std::string m = error_of([&] { PassageStore store(path); });
  EXPECT_NE(m.find("'" + path + "'"), std::string::npos) << "file not named: " << m;
  EXPECT_FALSE(path_exists(path + ".fidx")) << "an index was saved for a bad file";
  if (!by_row) return m;
  const std::string m2 = error_of([&] {
    PassageReader reader(path);
    Passage p;
    while (reader.next(p)) {}
  });
  EXPECT_NE(m2.find("'" + path + "'"), std::string::npos) << m2;
  return m;
}

TEST(PassageErrors, WrongNumberOfColumns) {
  auto m = open_error("id\ttext\ttitle\n1\tfirst\tT\n2\tonly two\n3\tx\tT\n");
  expect_mentions(m, {"line 3 (passage row 1)", "field 'title'", "has 2 columns, expected 3"});
  m = open_error("id\ttext\ttitle\n1\ta\tb\textra\n");
  expect_mentions(m, {"line 2 (passage row 0)", "has 4 columns"});
}

TEST(PassageErrors, DuplicateIds) {
  auto m = open_error("id\ttext\ttitle\n5\ta\tA\n6\tb\tB\n5\tc\tC\n", false);
  expect_mentions(m, {"duplicate passage id '5'", "rows 0 and 2", "lines 2 and 4"});
  m = open_error("id\ttext\ttitle\nx\ta\tA\n\"x\"\tb\tB\n", false);
  expect_mentions(m, {"duplicate passage id 'x'", "lines 2 and 3"});
}

TEST(PassageErrors, InvalidUtf8) {
  auto m = open_error("id\ttext\ttitle\n1\tok\tT\n2\tfine\tBad \xFF title\n");
  expect_mentions(m, {"line 3 (passage row 1)", "field 'title' holds invalid UTF-8", "\\xFF"});
}

TEST(PassageErrors, BadQuotingAndHeader) {
  // A quote never closed in the text takes the rest of the file (as in
  // Python's csv module): the row lacks its title, and the error says why.
  auto m = open_error("id\ttext\ttitle\n1\t\"never closed\tT\n");
  expect_mentions(m, {"line 2 (passage row 0)", "has 2 columns", "a quote opened in this row is never closed"});
  m = open_error("passage_id\ttext\ttitle\n1\ta\tb\n");
  expect_mentions(m, {"line 1", "unexpected header column 'passage_id'"});
  m = open_error("");
  expect_mentions(m, {"is empty"});
}

TEST(PassageErrors, MissingFile) {
  auto m = error_of([] { PassageStore store("/nonexistent/psgs_w100.tsv"); });
  expect_mentions(m, {"passages file '/nonexistent/psgs_w100.tsv' does not exist"});
  m = error_of([] { PassageReader reader("/nonexistent/psgs_w100.tsv"); });
  expect_mentions(m, {"cannot open passages file '/nonexistent/psgs_w100.tsv'"});
}

}  // namespace
}  // namespace fid::data
