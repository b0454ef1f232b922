// FiD's passage embedding files (generate_passage_embeddings.py):
// `pickle.dump((ids, embeddings), f)` with ids a list of the passages' TSV
// ids (str) and embeddings a numpy array (n, d) of float16 or float32.
// Read without Python: the file is memory-mapped and a small pickle machine
// runs the opcodes such a file holds (protocols 2 to 5), building numpy's
// arrays from numpy.core.multiarray._reconstruct + __setstate__ (protocol
// <= 4) or numpy.core.numeric._frombuffer (protocol 5). The vectors are not
// copied: they are read from the mapping, so a shard of any size streams.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fid::sharding {

class FidPickleShard {
 public:
  // Maps and parses `path`; an error names the file and what it holds
  // instead of (list of str ids, 2-d float16/float32 C-order array).
  explicit FidPickleShard(const std::string& path);
  ~FidPickleShard();
  FidPickleShard(const FidPickleShard&) = delete;
  FidPickleShard& operator=(const FidPickleShard&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<std::string>& ids() const { return ids_; }
  int64_t rows() const { return static_cast<int64_t>(ids_.size()); }
  int64_t dim() const { return dim_; }
  bool float16() const { return float16_; }
  // Rows [begin, begin + n) as float32, (n, dim) row-major.
  void read_vectors(int64_t begin, int64_t n, float* out) const;

 private:
  std::string path_;
  std::vector<std::string> ids_;
  int64_t dim_ = 0;
  bool float16_ = false;
  const unsigned char* data_ = nullptr;  // the array's first byte, inside the mapping
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

}  // namespace fid::sharding
