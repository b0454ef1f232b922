#include "index/bm25.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "common/files.h"

namespace fid::index {
namespace {
constexpr char kMagic[8] = {'F', 'I', 'D', 'B', 'M', '2', '5', '\0'};
constexpr uint32_t kVersion = 1;

template <typename T>
void put(std::ostream& out, const T& v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); }
template <typename T>
void put_vec(std::ostream& out, const std::vector<T>& v) {
  put<uint64_t>(out, v.size());
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}
template <typename T>
T get(std::istream& in, const std::string& path) {
  T v;
  in.read(reinterpret_cast<char*>(&v), sizeof v);
  FID_CHECK(in.good(), "BM25 index '", path, "' is truncated: rebuild it (fid bm25 --save_index)");
  return v;
}
template <typename T>
std::vector<T> get_vec(std::istream& in, const std::string& path, uint64_t limit) {
  uint64_t n = get<uint64_t>(in, path);
  FID_CHECK(n <= limit, "BM25 index '", path, "' is corrupted (array of ", n, " elements)");
  std::vector<T> v(n);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
  FID_CHECK(in.good(), "BM25 index '", path, "' is truncated: rebuild it");
  return v;
}
}  // namespace

double bm25_idf(int64_t num_docs, int64_t df) {
  return std::log(1.0 + (static_cast<double>(num_docs - df) + 0.5) / (static_cast<double>(df) + 0.5));
}

void Bm25Index::add(int64_t global_id, const std::vector<std::string>& terms) {
  FID_CHECK(!finalized_, "BM25 index: add() after finalize()");
  const auto doc = static_cast<uint32_t>(doc_ids_.size());
  doc_ids_.push_back(global_id);
  doc_lengths_.push_back(static_cast<uint32_t>(terms.size()));
  total_length_ += static_cast<int64_t>(terms.size());
  // Count each term once per document; documents are short, so a sort of the
  // term ids beats a hash map per document.
  std::vector<int32_t> ids;
  ids.reserve(terms.size());
  for (const auto& t : terms) {
    auto [it, inserted] = vocab_.try_emplace(t, static_cast<int32_t>(terms_.size()));
    if (inserted) {
      terms_.push_back(t);
      building_.emplace_back();
    }
    ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    building_[ids[i]].emplace_back(doc, static_cast<uint32_t>(j - i));
    i = j;
  }
}

void Bm25Index::finalize() {
  if (finalized_) return;
  offsets_.assign(terms_.size() + 1, 0);
  for (size_t t = 0; t < terms_.size(); ++t) offsets_[t + 1] = offsets_[t] + building_[t].size();
  post_docs_.resize(offsets_.back());
  post_tfs_.resize(offsets_.back());
  for (size_t t = 0; t < terms_.size(); ++t) {
    uint64_t o = offsets_[t];
    for (const auto& [d, tf] : building_[t]) {
      post_docs_[o] = d;
      post_tfs_[o++] = tf;
    }
    std::vector<std::pair<uint32_t, uint32_t>>().swap(building_[t]);
  }
  building_.clear();
  building_.shrink_to_fit();
  finalized_ = true;
}

int32_t Bm25Index::term_id(const std::string& term) const {
  auto it = vocab_.find(term);
  return it == vocab_.end() ? -1 : it->second;
}

std::vector<int64_t> Bm25Index::document_frequencies(const std::vector<std::string>& terms) const {
  FID_CHECK(finalized_, "BM25 index: finalize() before querying");
  std::vector<int64_t> df(terms.size(), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    int32_t t = term_id(terms[i]);
    if (t >= 0) df[i] = static_cast<int64_t>(offsets_[t + 1] - offsets_[t]);
  }
  return df;
}

std::vector<Bm25Hit> Bm25Index::search(const std::vector<std::string>& query,
                                       const Bm25Stats& stats, const Bm25Params& params,
                                       int k) const {
  FID_CHECK(finalized_, "BM25 index: finalize() before querying");
  if (k <= 0 || doc_ids_.empty() || stats.num_docs == 0) return {};
  // Repeated query terms count once per occurrence: weight = occurrences.
  std::unordered_map<int32_t, int> weights;
  for (const auto& term : query) {
    int32_t t = term_id(term);
    if (t >= 0) ++weights[t];
  }
  std::vector<double> acc(doc_ids_.size(), 0.0);
  std::vector<uint32_t> touched;
  const double k1 = params.k1;
  const double b = params.b;
  const double avgdl = stats.avg_doc_length > 0 ? stats.avg_doc_length : 1.0;
  for (const auto& [t, w] : weights) {
    auto df_it = stats.df.find(terms_[t]);
    FID_CHECK(df_it != stats.df.end(), "BM25: no collection df for query term '", terms_[t], "'");
    const double idf = bm25_idf(stats.num_docs, df_it->second) * w;
    for (uint64_t o = offsets_[t]; o < offsets_[t + 1]; ++o) {
      const uint32_t d = post_docs_[o];
      const double tf = post_tfs_[o];
      const double norm = k1 * (1.0 - b + b * doc_lengths_[d] / avgdl);
      if (acc[d] == 0.0) touched.push_back(d);
      acc[d] += idf * tf * (k1 + 1.0) / (tf + norm);
    }
  }
  std::vector<Bm25Hit> hits;
  hits.reserve(touched.size());
  for (uint32_t d : touched) hits.push_back({acc[d], doc_ids_[d]});
  auto better = [](const Bm25Hit& a, const Bm25Hit& c) {
    return a.score != c.score ? a.score > c.score : a.id < c.id;
  };
  const size_t keep = std::min(hits.size(), static_cast<size_t>(k));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(), better);
  hits.resize(keep);
  return hits;
}

void Bm25Index::save(const std::string& path, const std::string& meta) const {
  FID_CHECK(finalized_, "BM25 index: finalize() before save()");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    FID_CHECK(out.good(), "cannot create BM25 index file '", tmp, "'");
    out.write(kMagic, sizeof kMagic);
    put<uint32_t>(out, kVersion);
    put<uint64_t>(out, meta.size());
    out.write(meta.data(), static_cast<std::streamsize>(meta.size()));
    put<int64_t>(out, total_length_);
    put_vec(out, doc_ids_);
    put_vec(out, doc_lengths_);
    std::string blob;
    std::vector<uint64_t> term_ends;
    for (const auto& t : terms_) {
      blob += t;
      term_ends.push_back(blob.size());
    }
    put_vec(out, term_ends);
    put<uint64_t>(out, blob.size());
    out.write(blob.data(), static_cast<std::streamsize>(blob.size()));
    put_vec(out, offsets_);
    put_vec(out, post_docs_);
    put_vec(out, post_tfs_);
    out.write(kMagic, sizeof kMagic);  // trailer: a cut file fails here
    out.flush();
    FID_CHECK(out.good(), "cannot write BM25 index file '", tmp, "' (disk full?)");
  }
  fsync_path(tmp);
  rename_durable(tmp, path);
}

Bm25Index Bm25Index::load(const std::string& path, std::string* meta) {
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.good(), "cannot open BM25 index '", path, "'");
  char magic[8];
  in.read(magic, sizeof magic);
  FID_CHECK(in.good() && std::memcmp(magic, kMagic, 8) == 0, "'", path,
            "' is not a FiD-MPI BM25 index");
  uint32_t version = get<uint32_t>(in, path);
  FID_CHECK(version == kVersion, "BM25 index '", path, "' has version ", version,
            ", expected ", kVersion, ". HINT: rebuild it with this fid");
  const uint64_t limit = static_cast<uint64_t>(file_size(path));
  uint64_t meta_size = get<uint64_t>(in, path);
  FID_CHECK(meta_size <= limit, "BM25 index '", path, "' is corrupted");
  std::string m(meta_size, '\0');
  in.read(m.data(), static_cast<std::streamsize>(meta_size));
  Bm25Index idx;
  idx.total_length_ = get<int64_t>(in, path);
  idx.doc_ids_ = get_vec<int64_t>(in, path, limit);
  idx.doc_lengths_ = get_vec<uint32_t>(in, path, limit);
  auto term_ends = get_vec<uint64_t>(in, path, limit);
  std::string blob(get<uint64_t>(in, path), '\0');
  FID_CHECK(blob.size() <= limit, "BM25 index '", path, "' is corrupted");
  in.read(blob.data(), static_cast<std::streamsize>(blob.size()));
  idx.offsets_ = get_vec<uint64_t>(in, path, limit);
  idx.post_docs_ = get_vec<uint32_t>(in, path, limit);
  idx.post_tfs_ = get_vec<uint32_t>(in, path, limit);
  in.read(magic, sizeof magic);
  FID_CHECK(in.good() && std::memcmp(magic, kMagic, 8) == 0, "BM25 index '", path,
            "' is truncated or corrupted: rebuild it");
  FID_CHECK(idx.doc_lengths_.size() == idx.doc_ids_.size() &&
                idx.offsets_.size() == term_ends.size() + 1 &&
                idx.post_docs_.size() == idx.post_tfs_.size() &&
                idx.offsets_.back() == idx.post_docs_.size(),
            "BM25 index '", path, "' is inconsistent: rebuild it");
  uint64_t begin = 0;
  for (uint64_t end : term_ends) {
    FID_CHECK(end >= begin && end <= blob.size(), "BM25 index '", path, "' is corrupted");
    idx.vocab_.emplace(blob.substr(begin, end - begin), static_cast<int32_t>(idx.terms_.size()));
    idx.terms_.push_back(blob.substr(begin, end - begin));
    begin = end;
  }
  for (uint32_t d : idx.post_docs_) {
    FID_CHECK(d < idx.doc_ids_.size(), "BM25 index '", path, "' is corrupted");
  }
  idx.finalized_ = true;
  if (meta != nullptr) *meta = m;
  return idx;
}

}  // namespace fid::index
