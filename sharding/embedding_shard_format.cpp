// The layout both sides of an embedding shard agree on: the attributes,
// the two datasets and their checks, row-block selections.
#include "sharding/embedding_shard_format.h"

#include "common/error.h"

namespace fid::sharding::shard_format {
using h5::Handle;

std::string bad_file_hint(const std::string& path) {
  return "; the file '" + path + "' is damaged: remove it and run embed-passages again for its shard";
}

// The attributes shared by the writer (resume) and the reader.
ShardMeta read_meta(hid_t file, const std::string& path) {
  std::string format = h5::read_string_attr(file, "format", path);
  FID_CHECK(format == kEmbeddingFormat, "'", path, "' is not an embedding shard (format '", format,
            "', expected '", kEmbeddingFormat, "')");
  int64_t version = h5::read_int64_attr(file, "version", path);
  FID_CHECK(version == kEmbeddingVersion, "embedding shard '", path, "' has format version ",
            version, " but this build reads version ", kEmbeddingVersion,
            "; HINT: re-embed the passages with this build of fid");
  ShardMeta m;
  m.dim = h5::read_int64_attr(file, "dim", path);
  m.dtype = parse_dtype(h5::read_string_attr(file, "dtype", path));
  m.model_fingerprint = h5::read_string_attr(file, "model_fingerprint", path);
  m.passages_fingerprint = h5::read_string_attr(file, "passages_fingerprint", path);
  m.shard_index = static_cast<int>(h5::read_int64_attr(file, "shard_index", path));
  m.shard_count = static_cast<int>(h5::read_int64_attr(file, "shard_count", path));
  m.rows.begin = h5::read_int64_attr(file, "row_begin", path);
  m.rows.end = h5::read_int64_attr(file, "row_end", path);
  FID_CHECK(m.dim > 0 && m.rows.begin >= 0 && m.rows.end >= m.rows.begin, "embedding shard '",
            path, "' has invalid attributes (dim ", m.dim, ", rows ", to_string(m.rows), ")",
            bad_file_hint(path));
  return m;
}

Handle open_dataset(hid_t file, const char* name, const std::string& path, hid_t dapl) {
  FID_CHECK(H5Lexists(file, name, H5P_DEFAULT) > 0, "embedding shard '", path,
            "' has no dataset '", name, "'", bad_file_hint(path));
  Handle ds(H5Dopen2(file, name, dapl), Handle::kDataset);
  h5::check(ds.get(), std::string("opening dataset '") + name + "' of", path);
  return ds;
}

std::vector<hsize_t> dataset_dims(hid_t ds, const std::string& path) {
  Handle space(H5Dget_space(ds), Handle::kDataspace);
  h5::check(space.get(), "reading a dataspace of", path);
  int rank = H5Sget_simple_extent_ndims(space.get());
  h5::check(rank, "reading a dataspace of", path);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

// Checks the dataset shapes and element types against the attributes.
void check_datasets(hid_t ids, hid_t emb, const ShardMeta& m, const std::string& path) {
  const auto n = static_cast<hsize_t>(m.rows.size());
  auto id_dims = dataset_dims(ids, path);
  auto emb_dims = dataset_dims(emb, path);
  FID_CHECK(id_dims.size() == 1 && id_dims[0] == n, "embedding shard '", path,
            "': dataset 'ids' does not have ", n, " rows (row range ", to_string(m.rows), ")",
            bad_file_hint(path));
  FID_CHECK(emb_dims.size() == 2 && emb_dims[0] == n && emb_dims[1] == static_cast<hsize_t>(m.dim),
            "embedding shard '", path, "': dataset 'embeddings' is not [", n, ", ", m.dim, "]",
            bad_file_hint(path));
  Handle type(H5Dget_type(emb), Handle::kType);
  const size_t want = m.dtype == EmbeddingDtype::kFloat16 ? 2 : 4;
  FID_CHECK(H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == want,
            "embedding shard '", path, "': dataset 'embeddings' does not hold ",
            dtype_name(m.dtype), " as its 'dtype' attribute says", bad_file_hint(path));
}

// Row-block selection [begin, begin + n) x all columns of `ds`.
Handle select_rows(hid_t ds, int64_t begin, int64_t n, int64_t cols, const std::string& path) {
  Handle space(H5Dget_space(ds), Handle::kDataspace);
  h5::check(space.get(), "selecting rows of", path);
  hsize_t start[2] = {static_cast<hsize_t>(begin), 0};
  hsize_t count[2] = {static_cast<hsize_t>(n), static_cast<hsize_t>(cols)};
  h5::check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
            "selecting rows of", path);
  return space;
}
}  // namespace fid::sharding::shard_format
