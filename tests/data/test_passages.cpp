#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstddef>
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "common/files.h"
#include "data/passage_index.h"
#include "data/passage_index_format.h"
#include "data/passages.h"
#include "support/test_util.h"

namespace fid::data {
namespace {

std::vector<Passage> sample_passages(const std::vector<std::string>& ids) {
  std::vector<Passage> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    Passage p;
    p.id = ids[i];
    p.title = i % 2 ? "Title " + std::to_string(i) : "Aaron \"the\" \xC3\xA9";
    p.text = "text " + std::to_string(i) + (i % 3 == 0 ? " with\ttab and\nnewline and \"quotes\"" : "");
    out.push_back(p);
  }
  return out;
}

void write_passages(const std::string& path, const std::vector<Passage>& ps) {
  PassageWriter w(path);
  for (const auto& p : ps) w.write(p);
  w.close();
}

void expect_eq(const Passage& a, const Passage& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.text, b.text);
}

TEST(Passages, WriteIndexAndGetByIdForEveryIdKind) {
  const std::vector<std::vector<std::string>> id_sets = {
      {"1", "2", "3", "4", "5", "6", "7"},            // DPR: dense integers
      {"50", "-3", "7", "12", "0", "99", "8"},        // integers in any order
      {"doc12", "7", "wiki:3", "007", "a", "b", "c"}  // strings (007 is not 7)
  };
  for (const auto& ids : id_sets) {
    testing::TempDir dir;
    const std::string tsv = dir.file("psgs.tsv");
    auto ps = sample_passages(ids);
    write_passages(tsv, ps);
    PassageStore store(tsv);
    EXPECT_TRUE(store.built_index());
    ASSERT_EQ(store.size(), static_cast<int64_t>(ps.size()));
    for (size_t i = 0; i < ps.size(); ++i) {
      EXPECT_EQ(store.row_of(ps[i].id), static_cast<int64_t>(i)) << ps[i].id;
      expect_eq(store.get(ps[i].id), ps[i]);
      expect_eq(store.row(static_cast<int64_t>(i)), ps[i]);
    }
    EXPECT_EQ(store.row_of("8888"), -1);
    EXPECT_EQ(store.row_of("01"), -1);
    EXPECT_FALSE(store.contains("zzz"));
    try {
      store.get("404");
      FAIL() << "no throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("passage id '404' is not in '" + tsv + "'"), std::string::npos);
    }
    PassageReader reader(tsv);
    Passage p;
    size_t n = 0;
    while (reader.next(p)) expect_eq(p, ps[n++]);
    EXPECT_EQ(n, ps.size());
  }
}

TEST(Passages, IdKindsAreDetected) {
  testing::TempDir dir;
  write_passages(dir.file("a.tsv"), sample_passages({"1", "2", "3"}));
  write_passages(dir.file("b.tsv"), sample_passages({"3", "1", "2"}));
  write_passages(dir.file("c.tsv"), sample_passages({"3", "x", "2"}));
  bool built = false;
  auto a = PassageIndex::open(dir.file("a.tsv"), dir.file("a.idx"), &built);
  auto b = PassageIndex::open(dir.file("b.tsv"), dir.file("b.idx"), &built);
  auto c = PassageIndex::open(dir.file("c.tsv"), dir.file("c.idx"), &built);
  EXPECT_TRUE(a->dense_ids());
  EXPECT_TRUE(b->numeric_ids() && !b->dense_ids());
  EXPECT_FALSE(c->numeric_ids());
  EXPECT_EQ(a->find("0"), -1);
  EXPECT_EQ(a->find("4"), -1);
  EXPECT_EQ(a->find("-9223372036854775"), -1);
  EXPECT_EQ(b->find("1"), 1);
}

TEST(Passages, DprQuotingAndCrlfAreRead) {
  testing::TempDir dir;
  const std::string tsv = dir.file("psgs_w100.tsv");
  testing::write_text(tsv,
                      "id\ttext\ttitle\r\n"
                      "1\t\"Aaron Aaron ( or ; \"\"Ah\xC3\xA4r\xC3\xB4n\"\") is\"\tAaron\r\n"
                      "2\t\"multi\nline\ttext\"\t\"Quoted \"\"title\"\"\"\n"
                      "\n"
                      "3\tplain text\tPlain\n");
  PassageStore store(tsv);
  ASSERT_EQ(store.size(), 3);
  EXPECT_EQ(store.get("1").text, "Aaron Aaron ( or ; \"Ah\xC3\xA4r\xC3\xB4n\") is");
  EXPECT_EQ(store.get("1").title, "Aaron");
  EXPECT_EQ(store.get("2").text, "multi\nline\ttext");
  EXPECT_EQ(store.get("2").title, "Quoted \"title\"");
  EXPECT_EQ(store.get("3").text, "plain text");
  EXPECT_EQ(store.get("3").title, "Plain");
}

// FiD and DPR read passages with Python's csv.reader(delimiter='\t'), which
// is lenient. Each expected text below is what Python 3's csv module reads
// from the same bytes (its documented rules for a non-strict dialect: text
// after a closing quote is kept as it stands, quotes inside an unquoted
// field are plain characters, "" inside a quoted field is one quote); the
// store (index pass), its lookups and the streaming reader agree, and the
// loose rows are counted in the log.
TEST(Passages, LooseQuotingIsReadAsPythonsCsvModuleReadsIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\"Source\" form shall mean", "Source form shall mean"},
      {"\"a\"\"b\"", "a\"b"},
      {"\"a\"b\"c\"", "ab\"c\""},
      {"x\"y\"z", "x\"y\"z"},
      {"\"tab\there\"", "tab\there"},
      {"\"\"", ""},
      {"\"a\" ", "a "},
      {"\"a\"\"\" b", "a\" b"},
  };
  testing::TempDir dir;
  const std::string tsv = dir.file("psgs.tsv");
  std::string text = "id\ttext\ttitle\n";
  for (size_t i = 0; i < cases.size(); ++i) text += std::to_string(i + 1) + "\t" + cases[i].first + "\tT\n";
  // A quote never closed in the last field takes the rest of the file, as
  // in Python (['9', 'x', 'open\n10\ty\tU\n']).
  text += "9\tx\t\"open\n10\ty\tU\n";
  testing::write_text(tsv, text);
  ::testing::internal::CaptureStderr();
  {
    PassageStore store(tsv);
    ASSERT_EQ(store.size(), static_cast<int64_t>(cases.size()) + 1);
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(store.get(std::to_string(i + 1)).text, cases[i].second) << cases[i].first;
    }
    EXPECT_EQ(store.get("9").title, "open\n10\ty\tU\n");
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("5 rows are quoted loosely"), std::string::npos) << log;
  EXPECT_NE(log.find("line 2 (passage row 0)"), std::string::npos) << log;
  PassageReader reader(tsv);
  Passage p;
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(reader.next(p));
    EXPECT_EQ(p.text, cases[i].second) << cases[i].first;
  }
  ASSERT_TRUE(reader.next(p));
  EXPECT_EQ(p.title, "open\n10\ty\tU\n");
  EXPECT_FALSE(reader.next(p));
}

TEST(Passages, ColumnsMayComeInAnyOrder) {
  testing::TempDir dir;
  testing::write_text(dir.file("p.tsv"), "title\tid\ttext\nT1\tp1\tX1\n");
  PassageStore store(dir.file("p.tsv"));
  const Passage p = store.get("p1");
  EXPECT_EQ(p.title, "T1");
  EXPECT_EQ(p.text, "X1");
}

TEST(Passages, RowRangesPartitionTheFile) {
  testing::TempDir dir;
  std::vector<std::string> ids;
  for (int i = 0; i < 23; ++i) ids.push_back("p" + std::to_string(i * 7 % 23));
  auto ps = sample_passages(ids);
  write_passages(dir.file("p.tsv"), ps);
  PassageStore store(dir.file("p.tsv"));
  const int64_t cuts[] = {0, 5, 6, 6, 17, 23};
  size_t n = 0;
  for (int k = 0; k + 1 < 6; ++k) {
    PassageReader reader(store, cuts[k], cuts[k + 1], 4096);
    Passage p;
    while (reader.next(p)) {
      EXPECT_EQ(reader.row(), static_cast<int64_t>(n));
      expect_eq(p, ps[n++]);
    }
    EXPECT_EQ(static_cast<int64_t>(n), cuts[k + 1]);
  }
  EXPECT_EQ(n, ps.size());
  EXPECT_THROW(PassageReader(store, 5, 24), Error);
}

TEST(Passages, IndexIsReusedAndRebuiltWhenStale) {
  testing::TempDir dir;
  const std::string tsv = dir.file("p.tsv");
  write_passages(tsv, sample_passages({"1", "2", "3"}));
  { PassageStore first(tsv); EXPECT_TRUE(first.built_index()); }
  const std::string saved = read_file(tsv + ".fidx");
  EXPECT_EQ(saved.compare(0, 7, "FIDPIDX"), 0);
  {
    PassageStore again(tsv);
    EXPECT_FALSE(again.built_index());
    EXPECT_EQ(again.get("2").text, "text 1");
  }
  EXPECT_EQ(read_file(tsv + ".fidx"), saved);

  // The TSV changes: a new passage must be found, so the index is rebuilt.
  write_passages(tsv, sample_passages({"1", "2", "3", "4"}));
  {
    PassageStore changed(tsv);
    EXPECT_TRUE(changed.built_index());
    EXPECT_EQ(changed.size(), 4);
    EXPECT_EQ(changed.get("4").title, "Title 3");
  }
  // A damaged index (cut short) and one of another format version are rebuilt.
  std::string idx = read_file(tsv + ".fidx");
  write_file_atomic(tsv + ".fidx", idx.substr(0, idx.size() - 8));
  {
    PassageStore s(tsv);
    EXPECT_TRUE(s.built_index());
    EXPECT_EQ(s.get("3").title, "Aaron \"the\" \xC3\xA9");
  }
  idx = read_file(tsv + ".fidx");
  const uint32_t other_version = kPassageIndexVersion + 1;
  std::memcpy(idx.data() + offsetof(IndexHeader, version), &other_version, 4);
  write_file_atomic(tsv + ".fidx", idx);
  { PassageStore s(tsv); EXPECT_TRUE(s.built_index()); EXPECT_EQ(s.size(), 4); }
  { PassageStore s(tsv); EXPECT_FALSE(s.built_index()); }
}

TEST(Passages, AnEditThatKeepsTheFingerprintIsCaughtOnLookup) {
  testing::TempDir dir;
  const std::string tsv = dir.file("p.tsv");
  testing::write_text(tsv, "id\ttext\ttitle\n1\taaaa\tA\n2\tbb\tB\n");
  { PassageStore s(tsv); }
  // Rows swapped, same size. A small file's fingerprint covers all of it, so
  // the saved one is replaced to stand for an edit the fingerprint misses.
  testing::write_text(tsv, "id\ttext\ttitle\n2\tbbbb\tB\n1\taa\tA\n");
  std::string idx = read_file(tsv + ".fidx");
  const std::string fp = file_fingerprint(tsv);
  std::memcpy(idx.data() + offsetof(IndexHeader, fingerprint), fp.data(), fp.size());
  write_file_atomic(tsv + ".fidx", idx);
  PassageStore s(tsv);
  ASSERT_FALSE(s.built_index());
  try {
    s.get("2");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the file changed after indexing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fid::data
