// Reading a complete embedding shard: attributes and datasets checked on
// open, rows read in blocks, float16 widened here.
#include <algorithm>

#include "common/error.h"
#include "common/files.h"
#include "sharding/embedding_shard.h"
#include "sharding/embedding_shard_format.h"
#include "sharding/float16.h"
#include "sharding/hdf5_util.h"

namespace fid::sharding {
using h5::Handle;
using namespace shard_format;

ShardMeta read_shard_meta(const std::string& path) {
  EmbeddingShardReader reader(path);
  return reader.meta();
}

EmbeddingShardReader::EmbeddingShardReader(const std::string& path) : path_(path) {
  h5::quiet_errors();
  FID_CHECK(path_exists(path), "embedding shard '", path, "' does not exist",
            (path_exists(path + ".tmp") ? " (an unfinished '" + path + ".tmp' does: run "
                                          "embed-passages again to complete it)"
                                        : std::string()));
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) {
    FID_THROW("cannot open embedding shard '", path, "' (", h5::take_error_stack(),
              "): not an HDF5 file, or truncated or corrupted", bad_file_hint(path));
  }
  try {
    meta_ = read_meta(file_, path);
    FID_CHECK(h5::read_int64_attr(file_, "complete", path) == 1, "embedding shard '", path,
              "' is not marked complete", bad_file_hint(path));
    FID_CHECK(h5::read_int64_attr(file_, "rows_done", path) == meta_.rows.size(),
              "embedding shard '", path, "' records fewer rows done than its range ",
              to_string(meta_.rows), bad_file_hint(path));
    Handle ids = open_dataset(file_, "ids", path);
    Handle emb = open_dataset(file_, "embeddings", path);
    check_datasets(ids.get(), emb.get(), meta_, path);
    ids_ = ids.release();
    emb_ = emb.release();
  } catch (...) {
    if (emb_ >= 0) H5Dclose(emb_);
    if (ids_ >= 0) H5Dclose(ids_);
    H5Fclose(file_);
    H5Eclear2(H5E_DEFAULT);
    throw;
  }
}

EmbeddingShardReader::~EmbeddingShardReader() {
  if (emb_ >= 0) H5Dclose(emb_);
  if (ids_ >= 0) H5Dclose(ids_);
  if (file_ >= 0) H5Fclose(file_);
  H5Eclear2(H5E_DEFAULT);
}

void EmbeddingShardReader::read_ids(int64_t begin, int64_t n, int64_t* out) const {
  FID_CHECK(begin >= 0 && n >= 0 && begin + n <= rows(), "rows ", begin, "..", begin + n,
            " outside the ", rows(), " rows of '", path_, "'");
  if (n == 0) return;
  Handle fspace = select_rows(ids_, begin, n, 1, path_);
  hsize_t mdims[1] = {static_cast<hsize_t>(n)};
  Handle mspace(H5Screate_simple(1, mdims, nullptr), Handle::kDataspace);
  if (H5Dread(ids_, H5T_NATIVE_INT64, mspace.get(), fspace.get(), H5P_DEFAULT, out) < 0) {
    FID_THROW("reading ids of embedding shard '", path_, "' failed (", h5::take_error_stack(),
              ")", bad_file_hint(path_));
  }
}

void EmbeddingShardReader::read_vectors(int64_t begin, int64_t n, float* out) const {
  FID_CHECK(begin >= 0 && n >= 0 && begin + n <= rows(), "rows ", begin, "..", begin + n,
            " outside the ", rows(), " rows of '", path_, "'");
  if (n == 0) return;
  const int64_t d = meta_.dim;
  Handle fspace = select_rows(emb_, begin, n, d, path_);
  hsize_t mdims[2] = {static_cast<hsize_t>(n), static_cast<hsize_t>(d)};
  Handle mspace(H5Screate_simple(2, mdims, nullptr), Handle::kDataspace);
  herr_t rc;
  if (meta_.dtype == EmbeddingDtype::kFloat16) {
    // Read the raw halves (no HDF5 soft conversion, which is slow) and widen.
    std::vector<uint16_t> half(static_cast<size_t>(n * d));
    Handle f16 = h5::make_float16_type();
    rc = H5Dread(emb_, f16.get(), mspace.get(), fspace.get(), H5P_DEFAULT, half.data());
    if (rc >= 0) {
      for (size_t i = 0; i < half.size(); ++i) out[i] = half_to_float(half[i]);
    }
  } else {
    rc = H5Dread(emb_, H5T_NATIVE_FLOAT, mspace.get(), fspace.get(), H5P_DEFAULT, out);
  }
  if (rc < 0) {
    FID_THROW("reading embeddings of shard '", path_, "' failed (", h5::take_error_stack(),
              ")", bad_file_hint(path_));
  }
}

std::vector<int64_t> EmbeddingShardReader::read_all_ids() const {
  std::vector<int64_t> out(static_cast<size_t>(rows()));
  read_ids(0, rows(), out.data());
  return out;
}

std::vector<float> EmbeddingShardReader::read_all_vectors() const {
  std::vector<float> out(static_cast<size_t>(rows() * dim()));
  read_vectors(0, rows(), out.data());
  return out;
}

void EmbeddingShardReader::verify() const {
  const int64_t block = std::max<int64_t>(1, (16 << 20) / (4 * dim()));
  std::vector<float> buf(static_cast<size_t>(block * dim()));
  std::vector<int64_t> ids(static_cast<size_t>(block));
  for (int64_t b = 0; b < rows(); b += block) {
    const int64_t n = std::min(block, rows() - b);
    read_ids(b, n, ids.data());
    read_vectors(b, n, buf.data());
  }
}

}  // namespace fid::sharding
