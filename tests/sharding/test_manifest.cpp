// manifest.json: round trip, validation against the listed files, globs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "sharding/manifest.h"
#include "support/test_util.h"

namespace fid::sharding {
namespace {
using fid::testing::TempDir;
using fid::testing::write_text;

// Three complete shards of 10 rows split 4/3/3, dim 4.
std::vector<std::string> write_shards(const TempDir& dir, const std::string& model = "m1") {
  ShardPlan plan(10, 3);
  std::vector<std::string> files;
  for (int s = 0; s < 3; ++s) {
    ShardMeta meta;
    meta.dim = 4;
    meta.dtype = EmbeddingDtype::kFloat32;
    meta.model_fingerprint = model;
    meta.passages_fingerprint = "p1";
    meta.shard_index = s;
    meta.shard_count = 3;
    meta.rows = plan.shard_range(s);
    std::string path = shard_file_name(dir.file("passages"), s);
    EmbeddingShardWriter w(path, meta);
    std::vector<int64_t> ids;
    std::vector<float> v;
    for (int64_t r = meta.rows.begin; r < meta.rows.end; ++r) {
      ids.push_back(r);
      for (int j = 0; j < 4; ++j) v.push_back(static_cast<float>(r * 10 + j));
    }
    w.append(ids.data(), v.data(), static_cast<int64_t>(ids.size()));
    w.finish();
    files.push_back(path);
  }
  return files;
}

using fid::testing::error_of;

TEST(Manifest, RoundTripAndValidation) {
  TempDir dir;
  auto files = write_shards(dir);
  Manifest m = manifest_from_files({files[2], files[0], files[1]}, dir.path());
  m.total_rows = 10;
  ASSERT_EQ(m.shards.size(), 3u);
  EXPECT_EQ(m.shards[0].index, 0);  // sorted by index
  EXPECT_EQ(m.shards[0].file, "passages_00000.h5");  // relative to the directory
  const std::string mpath = dir.file("manifest.json");
  write_manifest(mpath, m);

  Manifest back = load_manifest(mpath);
  EXPECT_EQ(back.dim, 4);
  EXPECT_EQ(back.dtype, EmbeddingDtype::kFloat32);
  EXPECT_EQ(back.total_rows, 10);
  EXPECT_EQ(back.rows_listed(), 10);
  EXPECT_EQ(back.model_fingerprint, "m1");
  ASSERT_EQ(back.shards.size(), 3u);
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(back.shards[s].rows, ShardPlan(10, 3).shard_range(s));
    EXPECT_EQ(back.shard_path(back.shards[s]), files[s]);
    EXPECT_EQ(back.shards[s].bytes, file_size(files[s]));
  }
  EXPECT_TRUE(back.plan().covers_all_rows());
  // Reading through the manifest gives the rows written.
  EmbeddingShardReader r(back.shard_path(back.shards[1]));
  std::vector<float> row(4);
  r.read_vectors(0, 1, row.data());
  EXPECT_EQ(row[0], 40.f);
}

TEST(Manifest, MissingOrChangedFileRefused) {
  TempDir dir;
  auto files = write_shards(dir);
  Manifest m = manifest_from_files(files, dir.path());
  const std::string mpath = dir.file("manifest.json");
  write_manifest(mpath, m);
  std::rename(files[1].c_str(), (files[1] + ".moved").c_str());
  std::string err = error_of([&] { load_manifest(mpath); });
  EXPECT_NE(err.find(files[1]), std::string::npos) << err;
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  std::rename((files[1] + ".moved").c_str(), files[1].c_str());
  EXPECT_NO_THROW(load_manifest(mpath));

  // A shard replaced by one from another run (same size, other model).
  TempDir other;
  auto files2 = write_shards(other, "m2");
  write_text(files[2], read_file(files2[2]));
  err = error_of([&] { load_manifest(mpath); });
  EXPECT_NE(err.find(files[2]), std::string::npos) << err;
}

TEST(Manifest, BadFormatAndVersion) {
  TempDir dir;
  write_text(dir.file("a.json"), R"({"format": "something-else"})");
  EXPECT_NE(error_of([&] { load_manifest(dir.file("a.json")); }).find("not an embeddings manifest"),
            std::string::npos);
  write_text(dir.file("b.json"), R"({"format": "fid-embeddings-manifest", "version": 99})");
  EXPECT_NE(error_of([&] { load_manifest(dir.file("b.json")); }).find("version"), std::string::npos);
}

TEST(Manifest, GlobOfShards) {
  TempDir dir;
  auto files = write_shards(dir);
  Manifest m = load_embeddings(dir.file("passages_*.h5"));
  ASSERT_EQ(m.shards.size(), 3u);
  EXPECT_EQ(m.total_rows, 10);
  EXPECT_EQ(m.shard_path(m.shards[2]), files[2]);
  EXPECT_THROW(load_embeddings(dir.file("nothing_*.h5")), fid::Error);
  // Mixing runs is refused, naming both files.
  TempDir other;
  auto files2 = write_shards(other, "m2");
  std::string err = error_of([&] { manifest_from_files({files[0], files2[1]}, ""); });
  EXPECT_NE(err.find("model fingerprint"), std::string::npos) << err;
  EXPECT_NE(err.find(files2[1]), std::string::npos) << err;
  // The same shard twice.
  err = error_of([&] { manifest_from_files({files[0], files[0]}, ""); });
  EXPECT_NE(err.find("listed twice"), std::string::npos) << err;
}

}  // namespace
}  // namespace fid::sharding
