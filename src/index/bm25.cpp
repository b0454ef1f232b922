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
  // Documents are numbered in uint32_t, and the search reserves the largest.
  FID_CHECK(doc_ids_.size() < 0xffffffffu, "BM25 index: too many documents in one shard");
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
  // add() numbers documents in arrival order, so each posting list is sorted
  // by document, as the document-at-a-time search needs.
  compute_bounds();
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
  // The search walks each posting list in increasing document order.
  for (size_t t = 0; t + 1 < idx.offsets_.size(); ++t) {
    FID_CHECK(idx.offsets_[t] <= idx.offsets_[t + 1], "BM25 index '", path, "' is corrupted");
    for (uint64_t o = idx.offsets_[t]; o < idx.offsets_[t + 1]; ++o) {
      FID_CHECK(idx.post_docs_[o] < idx.doc_ids_.size() &&
                    (o == idx.offsets_[t] || idx.post_docs_[o - 1] < idx.post_docs_[o]),
                "BM25 index '", path, "' is corrupted");
    }
  }
  idx.compute_bounds();
  idx.finalized_ = true;
  if (meta != nullptr) *meta = m;
  return idx;
}

}  // namespace fid::index
