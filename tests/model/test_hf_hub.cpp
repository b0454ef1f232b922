// Models by name from a local Hugging Face cache (the hub's layout, made
// here): t5-style and org/name ids resolve through HF_HUB_CACHE, HF_HOME
// and TRANSFORMERS_CACHE to refs/main's snapshot, whose files are links into
// blobs/ as the hub writes them; a sharded safetensors checkpoint loads to
// the same tensors and the same outputs as the unsharded model.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/files.h"
#include "model/fid.h"
#include "model/hf_hub.h"
#include "model/safetensors.h"
#include "model/t5_io.h"
#include "support/hf_cache.h"
#include "support/test_util.h"

using namespace fid::model;
using fid::join_path;
using fid::testing::error_of;
using fid::testing::fixtures_dir;
using fid::testing::add_to_hub_cache;
using fid::testing::TempDir;

namespace {

// Sets an environment variable for one test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_, old_.c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(HfHub, ShardedT5FromTheCacheEqualsTheUnshardedModel) {
  TempDir cache;
  const std::string src = fixtures_dir() + "/t5_v1_1";
  const std::string snapshot = add_to_hub_cache(cache.path(), "org/tiny-t5", src, true);
  ScopedEnv hub("HF_HUB_CACHE", cache.path());
  EXPECT_EQ(resolve_model_dir("org/tiny-t5"), snapshot);
  // A directory stays itself, "none" stays "none".
  EXPECT_EQ(resolve_model_dir(src), src);
  EXPECT_EQ(resolve_model_dir("none"), "none");

  std::string which;
  TensorMap sharded = read_model_weights(snapshot, &which), plain = read_safetensors(src + "/model.safetensors");
  EXPECT_NE(which.find("model.safetensors.index.json"), std::string::npos) << which;
  ASSERT_EQ(sharded.size(), plain.size());
  for (const auto& [k, t] : plain) EXPECT_TRUE(sharded.count(k) && sharded.at(k).equal(t)) << k;

  // The same outputs: teacher-forced logits on the fixture inputs.
  FidReader a(load_t5(snapshot)), b(load_t5(src));
  a.t5().eval();
  b.t5().eval();
  at::NoGradGuard ng;
  at::Tensor ids = at::randint(0, 500, {2, 3, 12}, at::kLong), mask = at::ones({2, 3, 12}, at::kLong);
  at::Tensor labels = at::randint(2, 500, {2, 5}, at::kLong);
  EXPECT_TRUE(at::equal(a.forward(ids, mask, labels).logits, b.forward(ids, mask, labels).logits));
}

TEST(HfHub, EveryCacheVariableIsSearchedAndAMissingNameSaysWhere) {
  TempDir home, other;
  const std::string snapshot = add_to_hub_cache(join_path(home.path(), "hub"), "t5-base", fixtures_dir() + "/t5_v1_1", false);
  ScopedEnv unset_hub("HF_HUB_CACHE", other.path());
  {
    ScopedEnv h("HF_HOME", home.path());
    EXPECT_EQ(resolve_model_dir("t5-base"), snapshot);
  }
  {
    ScopedEnv h("HF_HOME", other.path());
    ScopedEnv t("TRANSFORMERS_CACHE", join_path(home.path(), "hub"));
    EXPECT_EQ(resolve_model_dir("t5-base"), snapshot);
    const std::string e = error_of([] { resolve_model_dir("t5-11b"); });
    EXPECT_NE(e.find("model 't5-11b' is neither a directory nor in a Hugging Face cache; looked in:"),
              std::string::npos) << e;
    EXPECT_NE(e.find(join_path(home.path(), "hub/models--t5-11b")), std::string::npos) << e;
    EXPECT_NE(e.find(join_path(other.path(), "models--t5-11b")), std::string::npos) << e;
  }
}

TEST(HfHub, DamagedEntriesAreRefusedNamingWhatIsMissing) {
  TempDir cache;
  const std::string snapshot = add_to_hub_cache(cache.path(), "org/broken", fixtures_dir() + "/t5_v1_1", true);
  ScopedEnv hub("HF_HUB_CACHE", cache.path());
  // A shard the index names is gone.
  std::filesystem::remove(join_path(snapshot, "model-00002-of-00002.safetensors"));
  std::string e = error_of([&] { read_model_weights(snapshot); });
  EXPECT_NE(e.find("model-00002-of-00002.safetensors, which is missing"), std::string::npos) << e;
  // refs/main names a snapshot without config.json (an interrupted download).
  fid::testing::write_text(join_path(cache.path(), "models--org--broken/refs/main"), "feedbeef");
  e = error_of([] { resolve_model_dir("org/broken"); });
  EXPECT_NE(e.find("has no config.json: the download is incomplete"), std::string::npos) << e;
  // A path that is no hub name is left to the loader (whose error names the flag).
  EXPECT_EQ(resolve_model_dir("/no/such/dir"), "/no/such/dir");
  EXPECT_EQ(resolve_model_dir("./t5-base"), "./t5-base");
}

}  // namespace
