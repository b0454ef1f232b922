// Dense passage index over FAISS: exact inner product (flat), product
// quantization (PQ), IVF-PQ, each optionally behind an OPQ rotation, or any
// index FAISS's index_factory builds (HNSW, IVF-Flat, scalar quantizers, ...),
// always with the inner-product metric. Each embedding shard gets a part;
// the trained empty index is serialised on one rank and shared so all parts
// use one codebook. No FAISS types in this header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace faiss { struct Index; }

namespace fid::index {

enum class IndexType { kFlat, kPQ, kIVFPQ, kFactory };
std::string index_type_name(IndexType type);
// "flat" | "pq" | "ivfpq" (also "ivf_pq", "ivf-pq") | "factory".
IndexType parse_index_type(const std::string& name);

struct IndexParams {
  IndexType type = IndexType::kFlat;
  int64_t dim = 0;
  int pq_m = 0;      // subquantizers (bytes per code with 8 bits); PQ and IVF-PQ
  int pq_nbits = 8;  // bits per subquantizer code
  int nlist = 0;     // IVF cells
  int nprobe = 1;    // IVF cells visited per query (a search setting)
  bool opq = false;  // learn an OPQ rotation before PQ
  std::string factory;  // kFactory: FAISS's index_factory string ("IVF4096,SQ8", "HNSW32")
  int ef_search = 0;    // HNSW candidates kept while searching (a search setting; 0: FAISS's 16)
  // Everything that changes the stored index (nprobe does not).
  nlohmann::json to_json() const;
  static IndexParams from_json(const nlohmann::json& j);
  std::string describe() const;  // "IVF1024,OPQ16,PQ16x8"
  // Throws a fid::Error naming the bad setting.
  void validate() const;
};

// Size of a loaded index: the code per vector, and the whole index file
// (codebooks, coarse quantizer, inverted-list ids) divided by vectors.
struct IndexSize {
  int64_t code_bytes = 0;       // bytes of one vector's code
  int64_t total_bytes = 0;      // serialised size of the whole index
  double bytes_per_vector = 0;  // total_bytes / vectors (0 when empty)
};

class DenseIndex {
 public:
  // A new, untrained (for PQ / IVF-PQ) empty index.
  explicit DenseIndex(const IndexParams& params);
  ~DenseIndex();
  DenseIndex(DenseIndex&&) noexcept;
  DenseIndex& operator=(DenseIndex&&) noexcept;

  const IndexParams& params() const { return params_; }
  int64_t dim() const { return params_.dim; }
  bool is_trained() const;
  int64_t size() const;  // vectors added

  // Trains the codebooks / coarse quantizer on (n, dim) vectors.
  void train(const float* x, int64_t n, int64_t seed = 1234);
  // Adds (n, dim) vectors in batches; labels continue from size().
  void add(const float* x, int64_t n, int64_t batch = 65536);
  // (nq, k) inner-product scores and local labels (insertion order), -1 where
  // fewer than k vectors exist.
  void search(const float* queries, int64_t nq, int k, float* scores, int64_t* labels) const;
  void set_nprobe(int nprobe);
  // HNSW's efSearch (the index, or an IVF's HNSW coarse quantizer); no-op elsewhere.
  void set_ef_search(int ef);
  // True for an index whose structure depends on the vectors added (HNSW):
  // its parts cannot share more than their codebooks.
  bool is_graph() const;

  // The whole index as bytes (faiss::write_index), and back; `params` must
  // describe the serialised index (checked).
  std::string serialize() const;
  static DenseIndex deserialize(const std::string& bytes, const IndexParams& params);
  IndexSize size_report() const;
  // IVF parts of one index hold equal coarse quantizers (trained once):
  // this part uses `owner`'s instead of its own copy, which is freed
  // (IVF65536 at 768-d: 201 MB per part). No-op unless both are IVF with
  // byte-identical quantizers; `known_equal` (parts made from one trained
  // index) skips serialising both to compare them. `owner` must outlive
  // this index.
  void share_coarse_quantizer(const DenseIndex& owner, bool known_equal = false);

  faiss::Index* faiss_index() { return index_.get(); }

 private:
  DenseIndex() = default;
  void check_matches_params() const;

  IndexParams params_;
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace fid::index
