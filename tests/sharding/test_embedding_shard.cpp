// HDF5 embedding shards: round trips, resume after interruption (in process
// and after SIGKILL), completion only after finish, damaged files detected
// with their name, settings mismatches refused, write failures keep the tmp.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "common/error.h"
#include "common/files.h"
#include "sharding/embedding_shard.h"
#include "sharding/float16.h"
#include "support/test_util.h"

namespace fid::sharding {
namespace {
using fid::testing::TempDir;
using fid::testing::write_text;

ShardMeta make_meta(int64_t begin, int64_t end, int64_t dim, EmbeddingDtype dtype) {
  ShardMeta m;
  m.dim = dim;
  m.dtype = dtype;
  m.model_fingerprint = "model-abc";
  m.passages_fingerprint = "passages-123";
  m.shard_index = 2;
  m.shard_count = 4;
  m.rows = {begin, end};
  return m;
}

std::vector<float> random_rows(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n * dim));
  for (auto& x : v) x = g(rng);
  return v;
}

std::vector<int64_t> ids_for(int64_t begin, int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = 1000 + begin + i;
  return ids;
}

// Writes rows [from, to) of `vecs` in batches of `batch`.
void write_rows(EmbeddingShardWriter& w, const std::vector<float>& vecs, int64_t begin, int64_t dim,
                int64_t from, int64_t to, int64_t batch) {
  auto ids = ids_for(begin, to);
  for (int64_t b = from; b < to; b += batch) {
    const int64_t n = std::min(batch, to - b);
    w.append(ids.data() + b, vecs.data() + b * dim, n);
  }
}

using fid::testing::error_of;

TEST(EmbeddingShard, Float32RoundTrip) {
  TempDir dir;
  const std::string path = dir.file("p_00002.h5");
  const int64_t n = 537, d = 24;
  auto vecs = random_rows(n, d, 1);
  ShardMeta meta = make_meta(100, 100 + n, d, EmbeddingDtype::kFloat32);
  {
    EmbeddingShardWriter w(path, meta, {false, 64});
    EXPECT_FALSE(w.resumed());
    write_rows(w, vecs, 100, d, 0, n, 50);
    EXPECT_FALSE(path_exists(path));  // not under the final name until finish
    w.finish();
  }
  EXPECT_TRUE(path_exists(path));
  EXPECT_FALSE(path_exists(path + ".tmp"));
  EmbeddingShardReader r(path);
  EXPECT_EQ(r.meta().rows, (RowRange{100, 100 + n}));
  EXPECT_EQ(r.meta().shard_index, 2);
  EXPECT_EQ(r.meta().shard_count, 4);
  EXPECT_EQ(r.meta().model_fingerprint, "model-abc");
  EXPECT_EQ(r.meta().passages_fingerprint, "passages-123");
  EXPECT_EQ(r.read_all_ids(), ids_for(100, n));
  EXPECT_EQ(r.read_all_vectors(), vecs);  // bit-exact
  std::vector<float> part(static_cast<size_t>(3 * d));
  r.read_vectors(200, 3, part.data());
  EXPECT_EQ(0, std::memcmp(part.data(), vecs.data() + 200 * d, part.size() * 4));
}

TEST(EmbeddingShard, Float16RoundTripWithinOneStep) {
  TempDir dir;
  const std::string path = dir.file("p.h5");
  const int64_t n = 300, d = 16;
  auto vecs = random_rows(n, d, 2);
  {
    EmbeddingShardWriter w(path, make_meta(0, n, d, EmbeddingDtype::kFloat16));
    write_rows(w, vecs, 0, d, 0, n, 77);
    w.finish();
  }
  EmbeddingShardReader r(path);
  EXPECT_EQ(r.meta().dtype, EmbeddingDtype::kFloat16);
  auto back = r.read_all_vectors();
  ASSERT_EQ(back.size(), vecs.size());
  for (size_t i = 0; i < vecs.size(); ++i) {
    // One float16 step at this magnitude: 2^(exponent - 10).
    const float step = std::ldexp(1.0f, std::ilogb(std::max(std::fabs(vecs[i]), 6.1e-5f)) - 10);
    ASSERT_LE(std::fabs(back[i] - vecs[i]), step) << i << ": " << vecs[i] << " vs " << back[i];
    EXPECT_EQ(back[i], half_to_float(float_to_half(vecs[i])));
  }
}

TEST(EmbeddingShard, HalfConversionEdgeCases) {
  EXPECT_EQ(half_to_float(float_to_half(1.0f)), 1.0f);
  EXPECT_EQ(half_to_float(float_to_half(-2.5f)), -2.5f);
  EXPECT_EQ(half_to_float(float_to_half(65504.f)), 65504.f);
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
  EXPECT_EQ(half_to_float(float_to_half(5.96046448e-8f)), 5.96046448e-8f);  // smallest subnormal
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);  // tie rounds to even
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  // Every half value survives half -> float -> half.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // nan payloads
    ASSERT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(EmbeddingShard, ResumeAfterInterruptionGivesIdenticalRows) {
  TempDir dir;
  const int64_t n = 400, d = 8;
  auto vecs = random_rows(n, d, 3);
  for (auto dtype : {EmbeddingDtype::kFloat32, EmbeddingDtype::kFloat16}) {
    const std::string clean = dir.file("clean_" + dtype_name(dtype) + ".h5");
    const std::string path = dir.file("resumed_" + dtype_name(dtype) + ".h5");
    ShardMeta meta = make_meta(0, n, d, dtype);
    {
      EmbeddingShardWriter w(clean, meta);
      write_rows(w, vecs, 0, d, 0, n, 64);
      w.finish();
    }
    {
      EmbeddingShardWriter w(path, meta);
      write_rows(w, vecs, 0, d, 0, 192, 64);
      // Destroyed without finish: an interrupted run.
    }
    EXPECT_FALSE(path_exists(path));
    EXPECT_TRUE(path_exists(path + ".tmp"));
    EXPECT_NE(error_of([&] { EmbeddingShardReader r(path); }).find(path), std::string::npos);
    {
      EmbeddingShardWriter w(path, meta);
      EXPECT_TRUE(w.resumed());
      EXPECT_EQ(w.rows_done(), 192);
      EXPECT_NE(error_of([&] { w.finish(); }).find("192 of 400"), std::string::npos);
      write_rows(w, vecs, 0, d, w.rows_done(), n, 64);
      w.finish();
    }
    EmbeddingShardReader a(clean), b(path);
    EXPECT_EQ(a.read_all_ids(), b.read_all_ids());
    EXPECT_EQ(a.read_all_vectors(), b.read_all_vectors());
  }
}

TEST(EmbeddingShard, ResumeAfterSigkill) {
  TempDir dir;
  const int64_t n = 5000, d = 32;
  auto vecs = random_rows(n, d, 4);
  ShardMeta meta = make_meta(0, n, d, EmbeddingDtype::kFloat16);
  const std::string path = dir.file("killed.h5");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child writes batches and is killed mid-run by its own SIGKILL.
    try {
      EmbeddingShardWriter w(path, meta, {false, 100});
      auto ids = ids_for(0, n);
      for (int64_t b = 0; b < n; b += 100) {
        if (b == 2300) raise(SIGKILL);
        w.append(ids.data() + b, vecs.data() + b * d, std::min<int64_t>(100, n - b));
      }
    } catch (...) {
    }
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  {
    EmbeddingShardWriter w(path, meta, {false, 100});
    EXPECT_TRUE(w.resumed());
    EXPECT_EQ(w.rows_done(), 2300);
    write_rows(w, vecs, 0, d, w.rows_done(), n, 100);
    w.finish();
  }
  EmbeddingShardReader r(path);
  EXPECT_EQ(r.read_all_ids(), ids_for(0, n));
  auto back = r.read_all_vectors();
  for (size_t i = 0; i < vecs.size(); ++i) {
    ASSERT_EQ(back[i], half_to_float(float_to_half(vecs[i]))) << "row " << i / d;
  }
}

TEST(EmbeddingShard, MismatchedSettingsOnResumeRefused) {
  TempDir dir;
  const std::string path = dir.file("p.h5");
  auto vecs = random_rows(10, 8, 5);
  {
    EmbeddingShardWriter w(path, make_meta(0, 20, 8, EmbeddingDtype::kFloat32));
    write_rows(w, vecs, 0, 8, 0, 10, 10);
  }
  std::string err = error_of([&] { EmbeddingShardWriter w(path, make_meta(0, 20, 16, EmbeddingDtype::kFloat32)); });
  EXPECT_NE(err.find("dim 16 (this run) vs 8 (file)"), std::string::npos) << err;
  EXPECT_NE(err.find(path + ".tmp"), std::string::npos) << err;
  EXPECT_NE(err.find("remove it"), std::string::npos) << err;
  ShardMeta other = make_meta(0, 20, 8, EmbeddingDtype::kFloat32);
  other.model_fingerprint = "model-new";
  err = error_of([&] { EmbeddingShardWriter w(path, other); });
  EXPECT_NE(err.find("model fingerprint"), std::string::npos) << err;
  err = error_of([&] { EmbeddingShardWriter w(path, make_meta(0, 21, 8, EmbeddingDtype::kFloat32)); });
  EXPECT_NE(err.find("row range"), std::string::npos) << err;
  // The refused runs left the temporary file as it was.
  EmbeddingShardWriter w(path, make_meta(0, 20, 8, EmbeddingDtype::kFloat32));
  EXPECT_EQ(w.rows_done(), 10);
}

TEST(EmbeddingShard, CompleteFileIsNotOverwritten) {
  TempDir dir;
  const std::string path = dir.file("p.h5");
  { EmbeddingShardWriter w(path, make_meta(0, 0, 4, EmbeddingDtype::kFloat32)); w.finish(); }
  EmbeddingShardReader r(path);
  EXPECT_EQ(r.rows(), 0);
  EXPECT_THROW(EmbeddingShardWriter(path, make_meta(0, 0, 4, EmbeddingDtype::kFloat32)), fid::Error);
}

TEST(EmbeddingShard, TruncatedFileDetectedOnOpen) {
  TempDir dir;
  const std::string path = dir.file("trunc.h5");
  auto vecs = random_rows(1000, 32, 6);
  {
    EmbeddingShardWriter w(path, make_meta(0, 1000, 32, EmbeddingDtype::kFloat32));
    write_rows(w, vecs, 0, 32, 0, 1000, 250);
    w.finish();
  }
  std::string data = read_file(path);
  write_text(path, data.substr(0, data.size() / 2));
  std::string err = error_of([&] { EmbeddingShardReader r(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  write_text(path, "not an hdf5 file at all");
  err = error_of([&] { EmbeddingShardReader r(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST(EmbeddingShard, FlippedBytesDetectedWithFletcher32) {
  TempDir dir;
  const std::string path = dir.file("flip.h5");
  const int64_t n = 1000, d = 32;
  auto vecs = random_rows(n, d, 7);
  {
    EmbeddingShardWriter w(path, make_meta(0, n, d, EmbeddingDtype::kFloat32), {true, 100});
    write_rows(w, vecs, 0, d, 0, n, 250);
    w.finish();
  }
  EmbeddingShardReader(path).verify();  // intact file passes
  std::string data = read_file(path);
  // Find row 555 in the file and flip one byte of it.
  const char* row = reinterpret_cast<const char*>(vecs.data() + 555 * d);
  size_t at = data.find(std::string(row, d * 4));
  ASSERT_NE(at, std::string::npos);
  data[at + 9] ^= 0x40;
  write_text(path, data);
  EmbeddingShardReader r(path);  // metadata intact: opens
  std::string err = error_of([&] { r.verify(); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  std::vector<float> buf(static_cast<size_t>(10 * d));
  err = error_of([&] { r.read_vectors(550, 10, buf.data()); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  // Rows in other chunks still read.
  r.read_vectors(0, 10, buf.data());
  EXPECT_EQ(0, std::memcmp(buf.data(), vecs.data(), buf.size() * 4));
}

TEST(EmbeddingShard, WriteFailureKeepsTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("full.h5");
  const int64_t n = 20000, d = 64;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A 1 MiB file size limit stands in for a full disk: writes fail (EFBIG).
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {1 << 20, 1 << 20};
    setrlimit(RLIMIT_FSIZE, &lim);
    auto vecs = random_rows(n, d, 8);
    int code = 1;
    try {
      EmbeddingShardWriter w(path, make_meta(0, n, d, EmbeddingDtype::kFloat32), {true, 256});
      write_rows(w, vecs, 0, d, 0, n, 512);
      w.finish();
      code = 2;
    } catch (const fid::Error& e) {
      std::string msg = e.what();
      code = (msg.find(path + ".tmp") != std::string::npos &&
              msg.find("temporary file is kept") != std::string::npos) ? 0 : 4;
      if (code) fprintf(stderr, "%s\n", msg.c_str());
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(path_exists(path + ".tmp"));
  EXPECT_FALSE(path_exists(path));
}

}  // namespace
}  // namespace fid::sharding
