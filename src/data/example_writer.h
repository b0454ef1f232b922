// Streaming writer of FiD datasets (JSON list or JSON lines). The file is
// written under a temporary name and renamed when close() completes, so a
// crash never leaves a complete-looking dataset behind.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/file_io.h"
#include "data/example.h"

namespace fid::data {

class ExampleWriter {
 public:
  ExampleWriter(const std::string& path, DatasetFormat format);
  // Without close(), the temporary file is removed: nothing is published.
  ExampleWriter(const ExampleWriter&) = delete;
  ExampleWriter& operator=(const ExampleWriter&) = delete;

  void write(const Example& ex);
  // One element given as JSON text (an object), written unchanged except that
  // a multi-line element is compacted for JSON lines.
  void write_raw(std::string_view json);
  // Flushes, syncs and renames the file to its final name.
  void close();

  int64_t count() const { return count_; }
  const std::string& path() const { return out_.path(); }

 private:
  void begin_element();
  void end_element();

  AtomicOutput out_;
  DatasetFormat format_;
  int64_t count_ = 0;
};

// Appends `s` as a JSON string literal (quotes, escapes); false when `s` is
// not valid UTF-8 (then nothing is appended).
bool append_json_string(std::string& out, std::string_view s);
// An example as one line of compact JSON (no raw text involved).
std::string example_to_json(const Example& ex);
// test-reader's --write_crossattention_scores record: `raw` with its ctxs put
// in the order the reader read them (the seed's sort by score), cut to the
// scores.size() passages the reader scored, each with `score` = the reader's
// score, `score_origin` = "reader" and the former score as `retrieval_score`.
// The unscored passages are dropped (the seed keeps them with their retrieval
// scores, which its retriever trainer then ranks among the reader's scores).
// Every other field is kept, in its order.
std::string with_reader_scores(std::string_view raw, const std::vector<double>& scores);

void write_examples(const std::string& path, const std::vector<Example>& examples,
                    DatasetFormat format);

}  // namespace fid::data
