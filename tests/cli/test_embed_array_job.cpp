// --shard_id/--num_shards (array-job elements) combined with mpirun ranks
// form one shard plan: the union of every element's shards equals a one-rank
// run, and the element that completes the last shard writes the manifest.
#include "data/passages.h"
#include "cli/embed_workspace.h"

namespace fid::testing {
namespace {

TEST(EmbedArrayJob, ElementsTimesRanksFormOnePlan) {
  EmbedWorkspace ws(150);
  const int64_t n = data::PassageStore(ws.passages()).size();
  const std::string opts = "--no_fp16 --dtype float32 --num_shards 2";
  ws.embed(1, "ref/", "--no_fp16 --dtype float32");
  // Element 0 of 2, two ranks: shards 0 and 1 of 4; no manifest yet.
  std::string log0 = ws.embed(2, "arr/", opts + " --shard_id 0");
  EXPECT_FALSE(path_exists(ws.path("arr/manifest.json"))) << log0;
  EXPECT_NE(log0.find("not complete yet"), std::string::npos) << log0;
  // Element 1 completes the plan and lists all four shards.
  ws.embed(2, "arr/", opts + " --shard-id 1");
  EmbeddedRows all = read_rows(ws.path("arr/manifest.json"));
  EXPECT_EQ(all.shards, 4);
  expect_same_rows(read_rows(ws.path("ref/manifest.json")), all, n, 1e-5);
  // Rerunning a finished element changes nothing and keeps the manifest.
  std::string again = ws.embed(2, "arr/", opts + " --shard_id 0");
  EXPECT_NE(again.find("already complete"), std::string::npos) << again;
  expect_same_rows(all, read_rows(ws.path("arr/manifest.json")), n, 0);
}

}  // namespace
}  // namespace fid::testing
