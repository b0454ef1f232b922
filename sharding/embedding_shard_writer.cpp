// Writing an embedding shard: created fixed-size as <path>.tmp, rows appended
// in batches with a durable row count, resumed after a kill, renamed when done.
#include "sharding/embedding_shard.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "sharding/embedding_shard_format.h"
#include "sharding/float16.h"
#include "sharding/hdf5_util.h"

namespace fid::sharding {
using h5::Handle;
using namespace shard_format;

namespace {
// Dataset access without a chunk cache, for unfiltered datasets being
// written: rows then go straight to their place in the file instead of each
// partly written chunk being read back, merged and written whole (which
// halved the write rate against a plain sequential write).
Handle uncached_access() {
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), Handle::kPlist);
  H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
  return dapl;
}

bool has_filters(hid_t ds) {
  Handle dcpl(H5Dget_create_plist(ds), Handle::kPlist);
  return dcpl.valid() && H5Pget_nfilters(dcpl.get()) > 0;
}

// float -> IEEE half, n values; F16C when the CPU has it (same rounding,
// round to nearest even, as float_to_half, about 3x faster).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx,f16c"))) void floats_to_halves_f16c(const float* in, uint16_t* out,
                                                                 size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < n; ++i) out[i] = float_to_half(in[i]);
}
#endif

void floats_to_halves(const float* in, uint16_t* out, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool f16c = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  if (f16c) return floats_to_halves_f16c(in, out, n);
#endif
  for (size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}

}  // namespace

EmbeddingShardWriter::EmbeddingShardWriter(const std::string& final_path, const ShardMeta& meta,
                                           const WriterOptions& options)
    : final_path_(final_path), tmp_path_(final_path + ".tmp"), meta_(meta) {
  h5::quiet_errors();
  FID_CHECK(meta.dim > 0, "embedding dimension must be > 0 for '", final_path, "'");
  FID_CHECK(!meta.rows.empty() || meta.rows.begin == meta.rows.end, "bad row range");
  FID_CHECK(!path_exists(final_path), "embedding shard '", final_path,
            "' already exists and is complete; remove it to write it again");
  // The file is created as <path>.tmp.new and renamed to <path>.tmp once its
  // header is complete: a .tmp always holds a header to resume from, and a
  // .tmp.new is a creation that never finished (a full disk, a kill) and is
  // started over.
  const std::string creating = tmp_path_ + ".new";
  try {
    if (path_exists(tmp_path_)) {
      open_for_resume();
    } else {
      if (path_exists(creating)) {
        FID_CHECK(std::remove(creating.c_str()) == 0, "cannot remove '", creating, "': ", std::strerror(errno));
        log::info("removed '", creating, "': an embedding shard whose creation did not finish");
      }
      create_file(creating, options);
      rename_durable(creating, tmp_path_);
    }
  } catch (...) {
    close_quietly();
    // Nothing to resume in a shard without its header; its space is freed.
    std::remove(creating.c_str());
    throw;
  }
}

EmbeddingShardWriter::~EmbeddingShardWriter() { close_quietly(); }

void EmbeddingShardWriter::close_quietly() {
  // Closing flushes whatever rows were written after the last recorded batch;
  // they are rewritten on resume since rows_done does not count them.
  if (emb_ >= 0) H5Dclose(emb_);
  if (ids_ >= 0) H5Dclose(ids_);
  if (file_ >= 0) H5Fclose(file_);
  emb_ = ids_ = file_ = -1;
  H5Eclear2(H5E_DEFAULT);
}

void EmbeddingShardWriter::create_file(const std::string& path, const WriterOptions& options) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), Handle::kPlist);
  // Version-2 object headers and superblock carry metadata checksums.
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  file_ = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  h5::check(file_, "creating embedding shard", path);

  const auto n = static_cast<hsize_t>(meta_.rows.size());
  const auto d = static_cast<hsize_t>(meta_.dim);
  const size_t elem = meta_.dtype == EmbeddingDtype::kFloat16 ? 2 : 4;
  hsize_t chunk = options.chunk_rows > 0 ? static_cast<hsize_t>(options.chunk_rows)
                                         : std::max<hsize_t>(1, (1u << 20) / (d * elem));
  chunk = std::max<hsize_t>(1, std::min<hsize_t>(chunk, std::max<hsize_t>(n, 1)));

  // Fixed size from the start: row i always lands at the same place, so a
  // resumed run overwrites, never duplicates. Axis 0 unlimited only so that
  // chunking is allowed for an empty shard.
  auto make = [&](const char* name, hid_t type, int rank, hsize_t chunk_cols) {
    hsize_t dims[2] = {n, d};
    hsize_t maxdims[2] = {H5S_UNLIMITED, d};
    hsize_t chunks[2] = {chunk, chunk_cols};
    Handle space(H5Screate_simple(rank, dims, maxdims), Handle::kDataspace);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), Handle::kPlist);
    H5Pset_chunk(dcpl.get(), rank, chunks);
    if (options.fletcher32) {
      h5::check(H5Pset_fletcher32(dcpl.get()), "enabling Fletcher32 on", path);
    } else {
      // Unfiltered chunks allocated up front: later raw-data writes never
      // touch the file's metadata, so a killed writer leaves it consistent.
      H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY);
      H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER);
    }
    Handle dapl = options.fletcher32 ? Handle() : uncached_access();
    hid_t ds = H5Dcreate2(file_, name, type, space.get(), H5P_DEFAULT, dcpl.get(),
                          dapl.valid() ? dapl.get() : H5P_DEFAULT);
    h5::check(ds, std::string("creating dataset '") + name + "' in", path);
    return ds;
  };
  ids_ = make("ids", H5T_STD_I64LE, 1, 1);
  if (meta_.dtype == EmbeddingDtype::kFloat16) {
    Handle f16 = h5::make_float16_type();
    emb_ = make("embeddings", f16.get(), 2, d);
  } else {
    emb_ = make("embeddings", H5T_IEEE_F32LE, 2, d);
  }

  h5::write_string_attr(file_, "format", kEmbeddingFormat, path);
  h5::write_int64_attr(file_, "version", kEmbeddingVersion, path);
  h5::write_int64_attr(file_, "dim", meta_.dim, path);
  h5::write_string_attr(file_, "dtype", dtype_name(meta_.dtype), path);
  h5::write_string_attr(file_, "model_fingerprint", meta_.model_fingerprint, path);
  h5::write_string_attr(file_, "passages_fingerprint", meta_.passages_fingerprint, path);
  h5::write_int64_attr(file_, "shard_index", meta_.shard_index, path);
  h5::write_int64_attr(file_, "shard_count", meta_.shard_count, path);
  h5::write_int64_attr(file_, "row_begin", meta_.rows.begin, path);
  h5::write_int64_attr(file_, "row_end", meta_.rows.end, path);
  h5::write_int64_attr(file_, "rows_done", 0, path);
  h5::write_int64_attr(file_, "complete", 0, path);
  h5::check(H5Fflush(file_, H5F_SCOPE_LOCAL), "flushing", path);
}

void EmbeddingShardWriter::open_for_resume() {
  file_ = H5Fopen(tmp_path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file_ < 0) {
    FID_THROW("cannot reopen the unfinished embedding shard '", tmp_path_,
              "' to resume it (", h5::take_error_stack(),
              "); it is damaged: remove it to start this shard over");
  }
  ShardMeta found = read_meta(file_, tmp_path_);
  std::string diff = meta_difference(meta_, found, true);
  FID_CHECK(diff.empty(), "cannot resume '", tmp_path_, "': it was written with different ",
            "settings (", diff, "); remove it to start this shard over, or rerun with the ",
            "settings of the interrupted run");
  ids_ = open_dataset(file_, "ids", tmp_path_).release();
  emb_ = open_dataset(file_, "embeddings", tmp_path_).release();
  if (!has_filters(emb_)) {  // reopened as create_file opens them
    Handle dapl = uncached_access();
    H5Dclose(emb_);
    H5Dclose(ids_);
    emb_ = ids_ = -1;
    ids_ = open_dataset(file_, "ids", tmp_path_, dapl.get()).release();
    emb_ = open_dataset(file_, "embeddings", tmp_path_, dapl.get()).release();
  }
  check_datasets(ids_, emb_, meta_, tmp_path_);
  rows_done_ = h5::read_int64_attr(file_, "rows_done", tmp_path_);
  FID_CHECK(rows_done_ >= 0 && rows_done_ <= rows_total(), "'", tmp_path_, "' records ",
            rows_done_, " rows done of ", rows_total(), "; remove it to start this shard over");
  resumed_ = true;
  log::info("resuming '", tmp_path_, "' at row ", rows_done_, " of ", rows_total());
}

void EmbeddingShardWriter::append(const int64_t* ids, const float* vectors, int64_t n) {
  FID_CHECK(!finished_ && file_ >= 0, "append to a closed embedding shard '", tmp_path_, "'");
  FID_CHECK(n >= 0 && rows_done_ + n <= rows_total(), "appending ", n, " rows to '", tmp_path_,
            "' would exceed its ", rows_total(), " rows (", rows_done_, " done)");
  if (n == 0) return;
  const int64_t d = meta_.dim;
  auto fail = [&](const char* what) {
    const int err = errno;
    std::string stack = h5::take_error_stack();
    FID_THROW(what, " rows ", rows_done_, "..", rows_done_ + n, " of '", tmp_path_,
              "' failed: ", stack, (err != 0 ? std::string(" (") + std::strerror(err) + ")" : ""),
              "; if the disk is full, free space and run again: the temporary file is kept and ",
              "the run resumes from row ", rows_done_);
  };
  errno = 0;
  {
    Handle fspace = select_rows(ids_, rows_done_, n, 1, tmp_path_);
    hsize_t mdims[1] = {static_cast<hsize_t>(n)};
    Handle mspace(H5Screate_simple(1, mdims, nullptr), Handle::kDataspace);
    if (H5Dwrite(ids_, H5T_NATIVE_INT64, mspace.get(), fspace.get(), H5P_DEFAULT, ids) < 0) {
      fail("writing ids of");
    }
  }
  {
    Handle fspace = select_rows(emb_, rows_done_, n, d, tmp_path_);
    hsize_t mdims[2] = {static_cast<hsize_t>(n), static_cast<hsize_t>(d)};
    Handle mspace(H5Screate_simple(2, mdims, nullptr), Handle::kDataspace);
    herr_t rc;
    if (meta_.dtype == EmbeddingDtype::kFloat16) {
      // Reused between appends: a fresh buffer per batch costs page faults.
      static thread_local std::vector<uint16_t> half;
      half.resize(static_cast<size_t>(n * d));
      floats_to_halves(vectors, half.data(), half.size());
      Handle f16 = h5::make_float16_type();
      rc = H5Dwrite(emb_, f16.get(), mspace.get(), fspace.get(), H5P_DEFAULT, half.data());
    } else {
      rc = H5Dwrite(emb_, H5T_NATIVE_FLOAT, mspace.get(), fspace.get(), H5P_DEFAULT, vectors);
    }
    if (rc < 0) fail("writing embeddings of");
  }
  // Data first, then the record that it is there: a crash in between only
  // makes the resumed run redo this batch.
  if (H5Dflush(ids_) < 0 || H5Dflush(emb_) < 0) fail("flushing");
  rows_done_ += n;
  h5::write_int64_attr(file_, "rows_done", rows_done_, tmp_path_);
  if (H5Fflush(file_, H5F_SCOPE_LOCAL) < 0) {
    rows_done_ -= n;
    fail("flushing");
  }
}

void EmbeddingShardWriter::finish() {
  FID_CHECK(!finished_ && file_ >= 0, "embedding shard '", tmp_path_, "' is already closed");
  FID_CHECK(rows_done_ == rows_total(), "cannot finish '", tmp_path_, "': ", rows_done_,
            " of ", rows_total(), " rows written");
  h5::write_int64_attr(file_, "complete", 1, tmp_path_);
  h5::check(H5Fflush(file_, H5F_SCOPE_LOCAL), "flushing", tmp_path_);
  herr_t a = H5Dclose(emb_), b = H5Dclose(ids_);
  emb_ = ids_ = -1;
  herr_t c = H5Fclose(file_);
  file_ = -1;
  if (a < 0 || b < 0 || c < 0) h5::check(-1, "closing", tmp_path_);
  fsync_path(tmp_path_);
  rename_durable(tmp_path_, final_path_);
  finished_ = true;
}

}  // namespace fid::sharding
