// Random access to the examples of a FiD dataset: one pass records where each
// element starts and ends (16 bytes per example), then get(i) reads and parses
// example i alone. Training draws batches from a permutation of the whole set
// shared by every rank, so any rank may need any example; holding the file's
// offsets instead of its examples keeps memory independent of its size.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/example.h"

namespace fid::data {

class ElementSplitter;

class IndexedDataset {
 public:
  IndexedDataset(const std::string& path, ReaderOptions options = {});
  ~IndexedDataset();
  IndexedDataset(const IndexedDataset&) = delete;
  IndexedDataset& operator=(const IndexedDataset&) = delete;

  int64_t size() const { return static_cast<int64_t>(offsets_.size()); }
  // Example `index` (0-based, in file order).
  void get(int64_t index, Example& out) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  ReaderOptions options_;
  std::unique_ptr<ElementSplitter> splitter_;  // kept for error messages
  std::vector<int64_t> offsets_;
  std::vector<int64_t> sizes_;
  int fd_ = -1;
};

}  // namespace fid::data
