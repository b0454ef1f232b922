// Bad input to `fid embed-passages` gets an error naming the flag, file or
// field; damaged shards are found when they are opened, naming the file.
#include <cstdio>
#include <fstream>

#include "cli/embed_workspace.h"

namespace fid::testing {
namespace {

void expect_has(const std::string& log, const std::string& text) {
  EXPECT_NE(log.find(text), std::string::npos) << "expected '" << text << "' in:\n" << log;
}

class EmbedFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ws_ = new EmbedWorkspace(60, {"ret", "ret_wide"}); }
  static void TearDownTestSuite() {
    delete ws_;
    ws_ = nullptr;
  }
  static EmbedWorkspace* ws_;
};
EmbedWorkspace* EmbedFaults::ws_ = nullptr;

TEST_F(EmbedFaults, BadFlagsAndInputsNameTheirFlagOrFile) {
  const EmbedWorkspace& ws = *ws_;
  const std::string missing = ws.path("nope.tsv");
  std::string log = run_fails(ws.command_on(missing, 1, "x/", ""));
  expect_has(log, "--passages file '" + missing + "' does not exist");

  log = ws.embed_fails(1, "x/", "", "no_such_model");
  expect_has(log, "--model_path '" + ws.path("no_such_model") + "'");
  log = ws.embed_fails(1, "x/", "--dtype int8");
  expect_has(log, "--dtype 'int8'");
  log = ws.embed_fails(1, "x/", "--passage_maxlength 4096");
  expect_has(log, "--passage_maxlength 4096 exceeds the model's max_position_embeddings");
  log = ws.embed_fails(1, "x/", "--num_shards 2 --shard_id 2");
  expect_has(log, "--shard_id 2 must be in [0, --num_shards=2)");
  log = ws.embed_fails(1, "x/", "--per_gpu_batch_size 0");
  expect_has(log, "--per_gpu_batch_size must be positive");
  // Nothing was written by the refused runs.
  EXPECT_FALSE(path_exists(ws.path("x/manifest.json")));
  EXPECT_FALSE(path_exists(ws.path("x/passages_00000.h5.tmp")));
}

TEST_F(EmbedFaults, MalformedPassageRowsNameTheFileAndLine) {
  const EmbedWorkspace& ws = *ws_;
  const std::string bad = ws.path("bad.tsv");
  write_text(bad, "id\ttext\ttitle\n1\tfirst passage\tOne\n2\tsecond passage\n3\tthird\tThree\n");
  const std::string cmd = ws.command_on(bad, 1, "bad/", "");
  std::string log = run_fails(cmd);
  expect_has(log, "'" + bad + "' line 3");
  expect_has(log, "field 'title'");
  write_text(bad, "id\ttext\ttitle\n1\t\"unclosed quote\tOne\n");
  log = run_fails(cmd);
  expect_has(log, "'" + bad + "' line 2");
  write_text(bad, "identifier\tbody\n1\tx\n");
  log = run_fails(cmd);
  expect_has(log, "'" + bad + "' line 1");
  EXPECT_FALSE(path_exists(ws.path("bad/manifest.json")));
}

TEST_F(EmbedFaults, ShardFromAnotherRunIsNeitherReusedNorOverwritten) {
  const EmbedWorkspace& ws = *ws_;
  ws.embed(1, "other/", "--no_fp16");
  const std::string shard = ws.path("other/passages_00000.h5");
  const int64_t bytes = file_size(shard);
  std::string log = ws.embed_fails(1, "other/", "--no_fp16", "ret_wide");
  expect_has(log, "'" + shard + "' exists from another run (dim 24 (this run) vs 16 (file)");
  EXPECT_EQ(file_size(shard), bytes);
  // The same run again finds it complete and does nothing.
  log = ws.embed(1, "other/", "--no_fp16");
  expect_has(log, "already complete");
}

TEST_F(EmbedFaults, TruncatedAndCorruptedShardsAreDetectedOnOpenNamingTheFile) {
  const EmbedWorkspace& ws = *ws_;
  ws.embed(2, "dmg/", "--no_fp16 --dtype float32 --fletcher32");
  const std::string manifest = ws.path("dmg/manifest.json");
  const std::string s0 = ws.path("dmg/passages_00000.h5"), s1 = ws.path("dmg/passages_00001.h5");
  read_rows(manifest);  // intact: loads and verifies
  const std::string original0 = read_file(s0), original1 = read_file(s1);

  // Truncated: the manifest sees the size change; the file itself fails to open.
  write_text(s0, original0.substr(0, original0.size() * 2 / 3));
  std::string err = error_of([&] { sharding::load_manifest(manifest); });
  expect_has(err, s0);
  err = error_of([&] { sharding::EmbeddingShardReader r(s0); });
  expect_has(err, s0);
  expect_has(err, "truncated or corrupted");
  // A rerun of the job refuses the damaged shard rather than trusting it.
  std::string log = ws.embed_fails(2, "dmg/", "--no_fp16 --dtype float32 --fletcher32");
  expect_has(log, s0);
  write_text(s0, original0);

  // Corrupted vector data (same size): the Fletcher32 checksum fails on read.
  {
    std::string data = original1;
    sharding::EmbeddingShardReader r(s1);
    std::vector<float> row(static_cast<size_t>(r.dim()));
    r.read_vectors(3, 1, row.data());
    const size_t at = data.find(std::string(reinterpret_cast<const char*>(row.data()), row.size() * 4));
    ASSERT_NE(at, std::string::npos);
    data[at + 5] ^= 0x20;
    write_text(s1, data);
  }
  err = error_of([&] { read_rows(manifest); });
  expect_has(err, s1);
  // Corrupted metadata (the superblock's signature): the open fails.
  {
    std::string data = original1;
    data[1] ^= 0x55;
    write_text(s1, data);
  }
  err = error_of([&] { sharding::EmbeddingShardReader r(s1); });
  expect_has(err, s1);
  err = error_of([&] { sharding::load_manifest(manifest); });
  expect_has(err, s1);
  write_text(s1, original1);
  read_rows(manifest);
}

// A disk too small for the shards: creating them fails with a clean error
// naming the file, no shard without its header is left (it used to be, and
// the rerun refused it as "no attribute 'format'"), and once there is room
// the same command writes the same rows.
TEST_F(EmbedFaults, FullDiskAtShardCreationIsACleanErrorAndTheRerunStartsOver) {
  // Without a tmpfs, a 1 KiB file size limit stands for the disk (EFBIG):
  // the lock file fits, a shard's header does not.
  const std::string why = cannot_mount_tmpfs();
  const bool tmpfs = why.empty();
  if (!tmpfs) std::printf("no tmpfs (%s): a file size limit stands for the full disk\n", why.c_str());
  const EmbedWorkspace& ws = *ws_;
  ws.embed(2, "roomy/");
  const std::string small = ws.path("small");
  make_directories(small);
  std::string cmd = ws.command(2, "small/emb/", "");
  const std::string first = tmpfs ? "mount -t tmpfs -o size=8k tmpfs " + small + " || exit 99; " + cmd
                                  : "(trap \"\" XFSZ; ulimit -f 1; exec " + ws.command(1, "small/emb/", "") + ")";
  const std::string script =
      first + " > " + ws.path("small1.log") + " 2>&1; echo $? > " + ws.path("small1.rc") + "; ls -a " + small +
      "/emb > " + ws.path("small1.ls") + " 2>&1; " + (tmpfs ? "mount -o remount,size=16m " + small + " || exit 98; " : "") +
      cmd + " > " + ws.path("small2.log") + " 2>&1; echo $? > " + ws.path("small2.rc") + "; mkdir -p " +
      ws.path("copied") + " && cp -r " + small + "/emb " + ws.path("copied") + "/; true";
  std::string out;
  ASSERT_EQ(run_command("timeout 300 " + (tmpfs ? in_private_mounts(script) : "sh -c '" + script + "'"), &out), 0)
      << out;
  const std::string log1 = read_file(ws.path("small1.log"));
  EXPECT_NE(read_file(ws.path("small1.rc")), "0\n") << log1;
  expect_has(log1, tmpfs ? "No space left on device" : "File too large");
  // The shard's creation failed (not the lock's, which takes the first page).
  expect_has(log1, small + "/emb/passages_0000");
  const std::string ls1 = read_file(ws.path("small1.ls"));
  // A rank whose shard got its header may leave a .tmp (resumable); none
  // leaves a shard without one (.tmp.new) or one that looks complete (.h5).
  EXPECT_EQ(ls1.find(".new"), std::string::npos) << ls1;
  EXPECT_EQ(ls1.find(".h5\n"), std::string::npos) << ls1;
  EXPECT_EQ(read_file(ws.path("small2.rc")), "0\n") << read_file(ws.path("small2.log"));
  EmbeddedRows a = read_rows(ws.path("roomy/manifest.json"));
  EmbeddedRows b = read_rows(ws.path("copied/emb/manifest.json"));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.vectors, b.vectors);
}

}  // namespace
}  // namespace fid::testing
