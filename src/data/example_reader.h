// Streaming reader of FiD datasets (a JSON list or JSON lines, told apart by
// the first character). Each example is parsed on its own with simdjson, so
// memory is bounded by the largest example, not by the file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/example.h"

namespace fid::data {

class ExampleReader {
 public:
  explicit ExampleReader(const std::string& path, ReaderOptions options = {});
  ~ExampleReader();
  ExampleReader(ExampleReader&&) noexcept;
  ExampleReader& operator=(ExampleReader&&) noexcept;

  // Fills `ex` with the next example of this reader's shard; false at the end.
  // Reusing one Example across calls reuses its string buffers.
  bool next(Example& ex);
  // Index in the whole file of the example last returned by next().
  int64_t index() const;
  DatasetFormat format() const;
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ElementSplitter;
struct Element;
// Parses one element found by `splitter` (random access: IndexedDataset).
void parse_example_element(const ElementSplitter& splitter, const Element& element,
                           const ReaderOptions& options, Example& ex);

// Number of examples in a dataset; the elements are delimited, not parsed.
int64_t count_examples(const std::string& path);
// The whole dataset (or this reader's shard of it) in memory: for small files.
std::vector<Example> read_examples(const std::string& path, const ReaderOptions& options = {});

}  // namespace fid::data
