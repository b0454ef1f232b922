// Interrupted embedding runs: a process killed with SIGKILL midway, a rank
// killed under mpirun, and a full disk. Each leaves its temporary shard (never
// a file that looks complete, never a manifest), and the rerun resumes from
// it and ends with the rows of a clean run, none missing and none duplicated.
#include <dirent.h>

#include <fstream>
#include <regex>

#include "data/passages.h"
#include "cli/embed_workspace.h"

namespace fid::testing {
namespace {

const char* kOpts = "--no_fp16 --dtype float32";

// "resuming '<tmp>' at row N of M" from the writer's log line: N (or -1).
int64_t resumed_at(const std::string& log, int64_t* of = nullptr) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("resuming '[^']*' at row ([0-9]+) of ([0-9]+)"))) return -1;
  if (of != nullptr) *of = std::stoll(m[2]);
  return std::stoll(m[1]);
}

// The pid of rank `rank` of a run whose command line mentions `marker`.
pid_t find_rank_pid(const std::string& marker, int rank) {
  DIR* proc = opendir("/proc");
  pid_t found = -1;
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  while (dirent* e = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream cmd("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find("embed-passages") == std::string::npos || cmdline.find(marker) == std::string::npos) continue;
    std::ifstream env("/proc/" + std::string(e->d_name) + "/environ", std::ios::binary);
    std::string environ((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if (environ.find(std::string("\0", 1) + want + std::string("\0", 1)) != std::string::npos ||
        environ.rfind(want + std::string("\0", 1), 0) == 0) {
      found = pid;
    }
  }
  closedir(proc);
  return found;
}

TEST(EmbedResume, KilledMidwayThenRerunGivesTheCleanRows) {
  EmbedWorkspace ws(240, {"ret", "ret_wide"});
  const int64_t n = data::PassageStore(ws.passages()).size();
  ws.embed(1, "clean/", kOpts);
  {
    Background run("FID_LOG_LEVEL=debug " + slow_io_env(200) + ws.command(1, "k/", std::string(kOpts) + " --window-batches 2"),
                   ws.path("kill.log"));
    ASSERT_TRUE(run.wait_for_log(" durable", 60)) << run.log();
    ASSERT_EQ(kill(run.pid(), SIGKILL), 0);
    ASSERT_TRUE(run.exited(10));
  }
  const std::string tmp = ws.path("k/passages_00000.h5.tmp");
  ASSERT_TRUE(path_exists(tmp));
  EXPECT_FALSE(path_exists(ws.path("k/passages_00000.h5")));
  EXPECT_FALSE(path_exists(ws.path("k/manifest.json")));
  // The unfinished file is refused by readers, naming it.
  std::string err = error_of([&] { sharding::EmbeddingShardReader r(tmp); });
  EXPECT_NE(err.find(tmp), std::string::npos) << err;
  EXPECT_NE(err.find("not marked complete"), std::string::npos) << err;

  // Resuming with a model of another dimension, or another stored dtype, is
  // refused naming the file and the field; the temporary file is untouched.
  std::string log = ws.embed_fails(1, "k/", kOpts, "ret_wide");
  EXPECT_NE(log.find(tmp), std::string::npos) << log;
  EXPECT_NE(log.find("dim 24 (this run) vs 16 (file)"), std::string::npos) << log;
  log = ws.embed_fails(1, "k/", "--no_fp16 --dtype float16");
  EXPECT_NE(log.find("dtype float16 (this run) vs float32 (file)"), std::string::npos) << log;
  ASSERT_TRUE(path_exists(tmp));

  log = ws.embed(1, "k/", kOpts);
  int64_t of = 0;
  const int64_t at = resumed_at(log, &of);
  EXPECT_GT(at, 0) << log;
  EXPECT_LT(at, of) << log;
  EXPECT_EQ(of, n);
  EXPECT_FALSE(path_exists(tmp));
  expect_same_rows(read_rows(ws.path("clean/manifest.json")), read_rows(ws.path("k/manifest.json")),
                   n, 1e-5);
}

TEST(EmbedResume, RankKilledUnderMpirunStopsTheJobAndTheRerunCompletes) {
  EmbedWorkspace ws(240);
  const int64_t n = data::PassageStore(ws.passages()).size();
  ws.embed(1, "clean/", kOpts);
  {
    Background run("FID_LOG_LEVEL=debug " + slow_io_env(200) + ws.command(2, "mk/", std::string(kOpts) + " --window-batches 2"),
                   ws.path("mkill.log"));
    ASSERT_TRUE(run.wait_for_log(" durable", 60)) << run.log();
    const pid_t rank1 = find_rank_pid(ws.path("mk/"), 1);
    ASSERT_GT(rank1, 0) << "rank 1 not found";
    ASSERT_EQ(kill(rank1, SIGKILL), 0);
    // The launcher notices and ends the job: rank 0 does not wait forever.
    ASSERT_TRUE(run.exited(60)) << run.log();
    EXPECT_FALSE(WIFEXITED(run.status()) && WEXITSTATUS(run.status()) == 0) << run.log();
  }
  EXPECT_FALSE(path_exists(ws.path("mk/passages_00001.h5")));
  EXPECT_TRUE(path_exists(ws.path("mk/passages_00001.h5.tmp")));
  EXPECT_FALSE(path_exists(ws.path("mk/manifest.json")));
  std::string log = ws.embed(2, "mk/", kOpts);
  EXPECT_GT(resumed_at(log), 0) << log;  // rank 0's shard resumed past row 0
  expect_same_rows(read_rows(ws.path("clean/manifest.json")), read_rows(ws.path("mk/manifest.json")),
                   n, 1e-5);
}

TEST(EmbedResume, FullDiskFailsNamingTheFileAndTheRerunResumes) {
  EmbedWorkspace ws(2400);
  const int64_t n = data::PassageStore(ws.passages()).size();
  ws.embed(1, "clean/", kOpts);
  make_directories(ws.path("full"));
  const std::string embed = ws.command(1, "small/", kOpts);
  // A file system that fills up mid-run: a tmpfs with room for half the
  // finished shard (its header and some of its rows; the header's size
  // depends on the HDF5 version) and a page for the job's lock, in a private
  // mount namespace. Where none can be mounted (not root, or / not a mount
  // point), HDF5's writes fail with ENOSPC after as many bytes
  // (tests/support/slow_io.c). A file size limit cannot stand in: the
  // shard's rows are allocated when it is created, so a limit fails the
  // creation, not a row.
  const int64_t half = file_size(ws.path("clean/passages_00000.h5")) / 2;
  make_directories(ws.path("probe"));
  const bool tmpfs =
      run_command("unshare -m sh -c 'mount -t tmpfs -o size=16k tmpfs " + ws.path("probe") + "'") == 0;
  std::string log;
  int rc;
  if (tmpfs) {
    const std::string script = "mkdir -p " + ws.path("small") + " && mount -t tmpfs -o size=" +
                               std::to_string(half / 1024 + 8) + "k tmpfs " + ws.path("small") + " && { " + embed +
                               "; rc=$?; cp " + ws.path("small") + "/*.tmp " + ws.path("full") + "/; exit $rc; }";
    rc = run_command("unshare -m sh -c '" + script + "'", &log);
  } else {
    rc = run_command(slow_io_env(0) + "FID_TEST_DISK_BYTES=" + std::to_string(half) + " " +
                         ws.command(1, "full/", kOpts),
                     &log);
  }
  ASSERT_NE(rc, 0) << log;
  EXPECT_NE(log.find(ws.path(tmpfs ? "small/passages_00000.h5.tmp" : "full/passages_00000.h5.tmp")),
            std::string::npos) << log;
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  EXPECT_NE(log.find("temporary file is kept"), std::string::npos) << log;
  ASSERT_TRUE(path_exists(ws.path("full/passages_00000.h5.tmp")));
  EXPECT_FALSE(path_exists(ws.path("full/passages_00000.h5")));
  // With space again the run resumes from the rows recorded as done.
  log = ws.embed(1, "full/", kOpts);
  EXPECT_GE(resumed_at(log), 0) << log;
  expect_same_rows(read_rows(ws.path("clean/manifest.json")), read_rows(ws.path("full/manifest.json")),
                   n, 1e-5);
}

// Two jobs on one output, with HDF5's file locks off as on NFS and Lustre:
// the second is refused naming the live job (it used to call the live .tmp
// damaged, or silently resume it and kill the first job), the first
// finishes with the rows of an undisturbed run; the lock of a job that died
// is taken over, and the log says so.
TEST(EmbedResume, ASecondJobOnALiveOutputIsRefusedAndAStaleLockIsTakenOver) {
  EmbedWorkspace ws(240, {"ret"});
  const int64_t n = data::PassageStore(ws.passages()).size();
  ws.embed(2, "ref/", kOpts);
  const std::string nfs = "HDF5_USE_FILE_LOCKING=FALSE ";
  {
    // Slow enough (0.6 s per flush) to outlast the second job's start-up
    // and the 3 s a lock holder gets to finish ending.
    Background live(nfs + "FID_LOG_LEVEL=debug " + slow_io_env(600) +
                        ws.command(2, "live/", std::string(kOpts) + " --window-batches 2"),
                    ws.path("live.log"));
    ASSERT_TRUE(live.wait_for_log(" durable", 60)) << live.log();
    std::string out;
    EXPECT_NE(run_command(nfs + "timeout 120 " + ws.command(2, "live/", kOpts), &out), 0) << out;
    EXPECT_NE(out.find("--output_path '" + ws.path("live") + "' is in use by another job"), std::string::npos)
        << out;
    EXPECT_EQ(out.find("damaged"), std::string::npos) << out;
    EXPECT_FALSE(live.exited(0)) << "the live job ended before the second one was refused; nothing was tested";
    ASSERT_TRUE(live.exited(180)) << live.log();
    EXPECT_EQ(live.status(), 0) << live.log();
  }
  expect_same_rows(read_rows(ws.path("ref/manifest.json")), read_rows(ws.path("live/manifest.json")), n, 1e-5);
  EXPECT_FALSE(path_exists(ws.path("live/.fid.lock")));

  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  make_directories(ws.path("stale"));
  write_text(ws.path("stale/.fid.lock"), std::string(host) + " 999999999 12345\n");
  const std::string log = ws.embed(1, "stale/", kOpts);
  EXPECT_NE(log.find("taking over '" + ws.path("stale/.fid.lock") + "'"), std::string::npos) << log;
  expect_same_rows(read_rows(ws.path("ref/manifest.json")), read_rows(ws.path("stale/manifest.json")), n, 1e-5);
  EXPECT_FALSE(path_exists(ws.path("stale/.fid.lock")));
}

// A scheduler's notice to the job (SIGUSR1, which mpiexec forwards to every
// rank, as SLURM signals every task): each rank stops after its next durable
// batch and the job exits with 75; the rerun resumes every shard and writes
// the rows of an undisturbed run.
TEST(EmbedResume, SignalStopsAfterADurableBatchAndTheRerunResumes) {
  EmbedWorkspace ws(240);
  const int64_t n = data::PassageStore(ws.passages()).size();
  ws.embed(2, "clean/", kOpts);
  {
    Background run("FID_LOG_LEVEL=debug " + slow_io_env(200) + ws.command(2, "sig/", std::string(kOpts) + " --window-batches 2"),
                   ws.path("sig.log"));
    ASSERT_TRUE(run.wait_for_log(" durable", 60)) << run.log();
    ASSERT_EQ(kill(run.pid(), SIGUSR1), 0);
    ASSERT_TRUE(run.exited(60)) << run.log();
    ASSERT_TRUE(WIFEXITED(run.status())) << run.log();
    EXPECT_EQ(WEXITSTATUS(run.status()), 75) << run.log();
    EXPECT_NE(run.log().find("stopped on request (SIGUSR1)"), std::string::npos) << run.log();
  }
  EXPECT_FALSE(path_exists(ws.path("sig/manifest.json")));
  EXPECT_TRUE(path_exists(ws.path("sig/passages_00000.h5.tmp")) || path_exists(ws.path("sig/passages_00001.h5.tmp")));
  std::string log = ws.embed(2, "sig/", kOpts);
  EXPECT_GT(resumed_at(log), 0) << log;
  expect_same_rows(read_rows(ws.path("clean/manifest.json")), read_rows(ws.path("sig/manifest.json")), n, 1e-5);
}

}  // namespace
}  // namespace fid::testing
