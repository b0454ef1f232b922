// The one workspace of the tests that drive the `fid` binary: a scratch
// directory, `fid` runs on one process or under mpiexec, and the small
// inputs the suites build on (a synthetic corpus, a tiny T5, a tiny
// retriever). A suite that needs more derives and adds its own files.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "data/passages.h"
#include "support/test_util.h"

namespace fid::testing {

// Runs a command and expects it to succeed (a test failure with its output
// otherwise); returns stdout + stderr.
std::string run_ok(const std::string& command);
// Runs a command and expects it to fail; returns stdout + stderr.
std::string run_fails(const std::string& command);

// A command started in the background (sh -c "exec ..."), in its own
// process group so that a kill reaches mpiexec's ranks too; killed on
// destruction unless it has ended.
class Background {
 public:
  Background(const std::string& cmd, const std::string& log);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }
  std::string log() const;
  // Waits until the log contains `text`; false after `timeout_s` or when the process ended.
  bool wait_for_log(const std::string& text, double timeout_s);
  // True once the process has ended (waits up to timeout_s).
  bool exited(double timeout_s);
  int status() const { return status_; }  // waitpid's status once exited

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = 0;
};

class Workspace {
 public:
  explicit Workspace(const std::string& tag);
  virtual ~Workspace() = default;
  const std::string& dir() const { return dir_.path(); }
  std::string path(const std::string& name) const { return dir_.file(name); }
  // data/passages.tsv, written by synth_data (or a suite's own corpus).
  std::string passages() const { return path("data/passages.tsv"); }

  // "<mpiexec -n np> <fid> <args> --threads 1": args start with the subcommand.
  std::string fid_command(int np, const std::string& args) const;
  int fid(int np, const std::string& args, std::string* out = nullptr) const;
  std::string fid_ok(int np, const std::string& args) const;
  std::string fid_fails(int np, const std::string& args) const;

  // `fid synth-data --people N` into path(out_dir).
  void synth_data(int people, const std::string& out_dir = "data") const;
  // A T5 reader of 2 layers, d_model 32, on the fixture tokenizer.
  void tiny_t5(const std::string& name, int seed) const;
  // A BERT retriever of 2 layers, hidden 32, on the fixture tokenizer,
  // projecting to `dim`; `flags` adds init-model options (masks, lengths).
  void tiny_retriever(const std::string& name, int dim, int seed, const std::string& flags) const;
  // Every passage of a passages TSV, in file order.
  static std::vector<data::Passage> read_passages(const std::string& tsv);

 private:
  TempDir dir_;
};

}  // namespace fid::testing
