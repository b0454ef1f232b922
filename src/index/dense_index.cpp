#include "index/dense_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/index_factory.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace fid::index {
namespace {

// FAISS reports errors with its own exception; ours name the operation.
template <typename F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const faiss::FaissException& e) {
    FID_THROW("FAISS failed while ", what, ": ", e.what());
  }
}

// Counts bytes without keeping them (the size of a multi-GB index).
struct CountingWriter : faiss::IOWriter {
  size_t bytes = 0;
  size_t operator()(const void*, size_t size, size_t nitems) override {
    bytes += size * nitems;
    return nitems;
  }
};

// Keeps the first bytes written (FAISS's type tag, "IxFI", "IHNf", ...) and
// then stops the writer: the rest of a multi-GB index is never walked.
struct HeadWriter : faiss::IOWriter {
  struct Enough {};
  std::string head;
  size_t operator()(const void* p, size_t size, size_t nitems) override {
    head.append(static_cast<const char*>(p), std::min<size_t>(size * nitems, 4 - head.size()));
    if (head.size() == 4) throw Enough{};
    return nitems;
  }
};

// The FAISS type tag of an index (and of the index under a pre-transform).
std::string type_tag(const faiss::Index* idx) {
  HeadWriter w;
  try {
    faiss::write_index(idx, &w);
  } catch (const HeadWriter::Enough&) {
  }
  return w.head;
}

// The index under an optional OPQ pre-transform.
const faiss::Index* core_index(const faiss::Index* idx) {
  if (auto* pt = dynamic_cast<const faiss::IndexPreTransform*>(idx)) return pt->index;
  return idx;
}
}  // namespace

std::string index_type_name(IndexType type) {
  switch (type) {
    case IndexType::kFlat: return "flat";
    case IndexType::kPQ: return "pq";
    case IndexType::kIVFPQ: return "ivfpq";
    case IndexType::kFactory: return "factory";
  }
  return "?";
}

IndexType parse_index_type(const std::string& name) {
  if (name == "flat") return IndexType::kFlat;
  if (name == "pq") return IndexType::kPQ;
  if (name == "ivfpq" || name == "ivf_pq" || name == "ivf-pq") return IndexType::kIVFPQ;
  if (name == "factory") return IndexType::kFactory;
  FID_THROW("unknown --index_type '", name, "' (use flat, pq or ivfpq, or --index_factory)");
}

nlohmann::json IndexParams::to_json() const {
  nlohmann::json j = {{"type", index_type_name(type)}, {"dim", dim},     {"pq_m", pq_m},
                      {"pq_nbits", pq_nbits},          {"nlist", nlist}, {"opq", opq}};
  if (type == IndexType::kFactory) j["factory"] = factory;
  return j;
}

IndexParams IndexParams::from_json(const nlohmann::json& j) {
  IndexParams p;
  p.type = parse_index_type(j.at("type").get<std::string>());
  p.dim = j.at("dim").get<int64_t>();
  p.pq_m = j.at("pq_m").get<int>();
  p.pq_nbits = j.at("pq_nbits").get<int>();
  p.nlist = j.at("nlist").get<int>();
  p.opq = j.at("opq").get<bool>();
  if (p.type == IndexType::kFactory) p.factory = j.at("factory").get<std::string>();
  return p;
}

std::string IndexParams::describe() const {
  if (type == IndexType::kFactory) return factory;
  std::string s;
  if (opq) s += "OPQ" + std::to_string(pq_m) + ",";
  if (type == IndexType::kIVFPQ) s += "IVF" + std::to_string(nlist) + ",";
  if (type == IndexType::kFlat) return s + "Flat";
  return s + "PQ" + std::to_string(pq_m) + "x" + std::to_string(pq_nbits);
}

void IndexParams::validate() const {
  FID_CHECK(dim > 0, "index dimension must be > 0, got ", dim);
  FID_CHECK(nprobe > 0, "--nprobe must be > 0, got ", nprobe);
  FID_CHECK(ef_search >= 0, "--efSearch must be >= 0, got ", ef_search);
  if (type == IndexType::kFactory) {
    FID_CHECK(!factory.empty(), "--index_factory is empty; give a FAISS factory string such as HNSW32 or IVF1024,SQ8");
    FID_CHECK(!opq && pq_m == 0, "--index_factory '", factory, "' with --opq or --n-subquantizers: say it in the "
              "factory string (e.g. OPQ16,IVF1024,PQ16)");
    return;
  }
  if (type == IndexType::kFlat) {
    FID_CHECK(!opq, "--opq needs --index_type pq or ivfpq (a rotation does not change flat search)");
    return;
  }
  FID_CHECK(pq_m > 0 && dim % pq_m == 0, "--n-subquantizers ", pq_m,
            " must be > 0 and divide the embedding dimension ", dim);
  FID_CHECK(pq_nbits >= 1 && pq_nbits <= 16, "--n-bits must be in [1, 16], got ", pq_nbits);
  if (type == IndexType::kIVFPQ) {
    FID_CHECK(nlist > 0, "--nlist must be > 0 for an IVF-PQ index");
    FID_CHECK(nprobe > 0, "--nprobe must be > 0");
  }
}

DenseIndex::DenseIndex(const IndexParams& params) : params_(params) {
  params_.validate();
  const int d = static_cast<int>(params_.dim);
  const auto ip = faiss::METRIC_INNER_PRODUCT;
  faiss::Index* inner = nullptr;
  switch (params_.type) {
    case IndexType::kFactory:
      index_.reset(guarded(("building --index_factory '" + params_.factory + "'").c_str(), [&] {
        return faiss::index_factory(d, params_.factory.c_str(), ip);
      }));
      set_nprobe(params_.nprobe);
      if (params_.ef_search > 0) set_ef_search(params_.ef_search);
      return;
    case IndexType::kFlat: inner = new faiss::IndexFlatIP(d); break;
    case IndexType::kPQ: inner = new faiss::IndexPQ(d, params_.pq_m, params_.pq_nbits, ip); break;
    case IndexType::kIVFPQ: {
      auto* quantizer = new faiss::IndexFlatIP(d);
      auto* ivf = new faiss::IndexIVFPQ(quantizer, d, params_.nlist, params_.pq_m,
                                        params_.pq_nbits, ip);
      ivf->own_fields = true;
      ivf->nprobe = params_.nprobe;
      inner = ivf;
      break;
    }
  }
  if (params_.opq) {
    // An orthogonal rotation keeps inner products, so scores stay comparable.
    auto* pt = new faiss::IndexPreTransform(new faiss::OPQMatrix(d, params_.pq_m), inner);
    pt->own_fields = true;
    index_.reset(pt);
  } else {
    index_.reset(inner);
  }
}

DenseIndex::~DenseIndex() = default;
DenseIndex::DenseIndex(DenseIndex&&) noexcept = default;
DenseIndex& DenseIndex::operator=(DenseIndex&&) noexcept = default;

bool DenseIndex::is_trained() const { return index_->is_trained; }
int64_t DenseIndex::size() const { return index_->ntotal; }

void DenseIndex::train(const float* x, int64_t n, int64_t seed) {
  if (params_.type == IndexType::kFlat) return;
  if (is_trained()) return;  // HNSW over flat vectors, flat codes: nothing to learn
  int64_t need = params_.type == IndexType::kIVFPQ ? params_.nlist : 1 << params_.pq_nbits;
  if (params_.type == IndexType::kFactory) {
    auto* ivf = dynamic_cast<const faiss::IndexIVF*>(core_index(index_.get()));
    need = ivf ? static_cast<int64_t>(ivf->nlist) : 1;
  }
  FID_CHECK(n >= need, "training ", params_.describe(), " needs at least ", need,
            " vectors, got ", n, "; raise --train_sample or lower --nlist / --n-bits");
  // Seeded k-means so every run (and every rank's shared copy) is the same.
  faiss::Index* core = const_cast<faiss::Index*>(core_index(index_.get()));
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core)) ivf->cp.seed = static_cast<int>(seed);
  if (auto* ivf = dynamic_cast<faiss::IndexIVFPQ*>(core)) {
    ivf->pq.cp.seed = static_cast<int>(seed);
  } else if (auto* pq = dynamic_cast<faiss::IndexPQ*>(core)) {
    pq->pq.cp.seed = static_cast<int>(seed);
  }
  guarded("training the index", [&] { index_->train(n, x); });
}

void DenseIndex::add(const float* x, int64_t n, int64_t batch) {
  FID_CHECK(is_trained(), "the ", params_.describe(), " index must be trained before adding");
  batch = std::max<int64_t>(1, batch);
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t m = std::min(batch, n - b);
    guarded("adding vectors", [&] { index_->add(m, x + b * params_.dim); });
  }
}

void DenseIndex::search(const float* queries, int64_t nq, int k, float* scores,
                        int64_t* labels) const {
  FID_CHECK(k >= 1, "k must be >= 1, got ", k);
  // FAISS's labels are int64_t (Index::idx_t in 1.7, faiss::idx_t from 1.7.4).
  guarded("searching", [&] {
    index_->search(nq, queries, k, scores, labels);
  });
}

void DenseIndex::set_nprobe(int nprobe) {
  FID_CHECK(nprobe > 0, "--nprobe must be > 0, got ", nprobe);
  params_.nprobe = nprobe;
  auto* core = const_cast<faiss::Index*>(core_index(index_.get()));
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core)) ivf->nprobe = nprobe;
}

void DenseIndex::set_ef_search(int ef) {
  FID_CHECK(ef > 0, "--efSearch must be > 0, got ", ef);
  params_.ef_search = ef;
  auto* core = const_cast<faiss::Index*>(core_index(index_.get()));
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(core)) hnsw->hnsw.efSearch = ef;
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core)) {
    if (auto* q = dynamic_cast<faiss::IndexHNSW*>(ivf->quantizer)) q->hnsw.efSearch = ef;
  }
}

void DenseIndex::share_coarse_quantizer(const DenseIndex& owner, bool known_equal) {
  auto* mine = dynamic_cast<faiss::IndexIVF*>(const_cast<faiss::Index*>(core_index(index_.get())));
  auto* theirs = dynamic_cast<const faiss::IndexIVF*>(core_index(owner.index_.get()));
  if (mine == nullptr || theirs == nullptr || mine == theirs || mine->quantizer == theirs->quantizer) return;
  if (!known_equal) {
    faiss::VectorIOWriter a, b;
    faiss::write_index(mine->quantizer, &a);
    faiss::write_index(theirs->quantizer, &b);
    if (a.data != b.data) return;
  }
  if (mine->own_fields) delete mine->quantizer;
  mine->quantizer = theirs->quantizer;
  mine->own_fields = false;
}

bool DenseIndex::is_graph() const {
  return dynamic_cast<const faiss::IndexHNSW*>(core_index(index_.get())) != nullptr;
}

std::string DenseIndex::serialize() const {
  faiss::VectorIOWriter w;
  guarded("serialising the index", [&] { faiss::write_index(index_.get(), &w); });
  return std::string(w.data.begin(), w.data.end());
}

DenseIndex DenseIndex::deserialize(const std::string& bytes, const IndexParams& params) {
  faiss::VectorIOReader r;
  r.data.assign(bytes.begin(), bytes.end());
  DenseIndex out;
  out.params_ = params;
  out.index_.reset(guarded("reading a serialised index", [&] { return faiss::read_index(&r); }));
  out.check_matches_params();
  out.set_nprobe(std::max(1, params.nprobe));
  if (params.ef_search > 0) out.set_ef_search(params.ef_search);
  return out;
}

void DenseIndex::check_matches_params() const {
  const faiss::Index* core = core_index(index_.get());
  bool ok = index_->d == params_.dim &&
            (params_.type == IndexType::kFactory ||
             params_.opq == (dynamic_cast<const faiss::IndexPreTransform*>(index_.get()) != nullptr));
  if (params_.type == IndexType::kFactory) {
    // The same FAISS index types (as serialised) as the factory string builds.
    const DenseIndex fresh(params_);
    ok = ok && type_tag(index_.get()) == type_tag(fresh.index_.get()) &&
         type_tag(core) == type_tag(core_index(fresh.index_.get()));
  } else if (params_.type == IndexType::kFlat) {
    ok = ok && dynamic_cast<const faiss::IndexFlat*>(core) != nullptr;
  } else if (params_.type == IndexType::kPQ) {
    auto* pq = dynamic_cast<const faiss::IndexPQ*>(core);
    ok = ok && pq && static_cast<int>(pq->pq.M) == params_.pq_m &&
         static_cast<int>(pq->pq.nbits) == params_.pq_nbits;
  } else {
    auto* ivf = dynamic_cast<const faiss::IndexIVFPQ*>(core);
    ok = ok && ivf && static_cast<int>(ivf->nlist) == params_.nlist &&
         static_cast<int>(ivf->pq.M) == params_.pq_m &&
         static_cast<int>(ivf->pq.nbits) == params_.pq_nbits;
  }
  FID_CHECK(ok, "the stored FAISS index (dimension ", index_->d,
            ") is not the expected ", params_.describe(), " of dimension ", params_.dim,
            "; rebuild the index");
}

IndexSize DenseIndex::size_report() const {
  IndexSize s;
  CountingWriter w;
  guarded("measuring the index", [&] { faiss::write_index(index_.get(), &w); });
  s.total_bytes = static_cast<int64_t>(w.bytes);
  const faiss::Index* core = core_index(index_.get());
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(core)) {
    s.code_bytes = static_cast<int64_t>(ivf->code_size);
  } else if (auto* codes = dynamic_cast<const faiss::IndexFlatCodes*>(core)) {
    s.code_bytes = static_cast<int64_t>(codes->code_size);
  } else if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(core)) {
    if (auto* st = dynamic_cast<const faiss::IndexFlatCodes*>(hnsw->storage)) s.code_bytes = static_cast<int64_t>(st->code_size);
  }
  s.bytes_per_vector = size() > 0 ? static_cast<double>(s.total_bytes) / size() : 0.0;
  return s;
}

}  // namespace fid::index
