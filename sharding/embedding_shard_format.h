// Internal to the embedding-shard writer and reader: what both read back
// from a shard file and check (attributes, dataset shapes and types).
#pragma once

#include <string>
#include <vector>

#include "sharding/hdf5_util.h"
#include "sharding/embedding_shard.h"
#include "sharding/shard_meta.h"

namespace fid::sharding::shard_format {

static_assert(sizeof(hid_t) == sizeof(int64_t), "hid_t is stored as int64_t");

// "; the file ... is damaged: remove it and ..." appended to every error about a shard's contents.
std::string bad_file_hint(const std::string& path);
// The attributes shared by the writer (resume) and the reader, checked.
ShardMeta read_meta(hid_t file, const std::string& path);
// Opens dataset `name`; an error naming the file when it is missing.
h5::Handle open_dataset(hid_t file, const char* name, const std::string& path,
                        hid_t dapl = H5P_DEFAULT);
std::vector<hsize_t> dataset_dims(hid_t ds, const std::string& path);
// Checks the dataset shapes and element types against the attributes.
void check_datasets(hid_t ids, hid_t emb, const ShardMeta& m, const std::string& path);
// Row-block selection [begin, begin + n) x all `cols` columns of `ds`.
h5::Handle select_rows(hid_t ds, int64_t begin, int64_t n, int64_t cols, const std::string& path);

}  // namespace fid::sharding::shard_format
