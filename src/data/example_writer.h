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
  // The element `raw` with ctxs[j].score set to scores[j] for j < scores.size()
  // (test-reader scores only the first n_context passages); every other field
  // is kept, in its order.
  void write_raw_with_scores(std::string_view raw, const std::vector<double>& scores);
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
// `raw` with the first scores.size() ctx scores replaced (see write_raw_with_scores).
std::string rewrite_ctx_scores(std::string_view raw, const std::vector<double>& scores);

void write_examples(const std::string& path, const std::vector<Example>& examples,
                    DatasetFormat format);

}  // namespace fid::data
