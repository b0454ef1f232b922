// A scratch workspace for reader runs: a synthetic corpus, questions with
// three ctxs each, a tiny T5 made by `fid init-model`, and helpers to run
// `fid` on one process or under mpiexec.
#pragma once
#include <string>

#include "support/test_util.h"

namespace fid::testing {

class ReaderWorkspace {
 public:
  ReaderWorkspace();
  const std::string& dir() const { return dir_.path(); }
  std::string path(const std::string& name) const { return dir_.file(name); }
  // "<fid> train-reader <common options> <extra>", optionally under mpiexec -n np.
  std::string train_command(int np, const std::string& name, const std::string& extra) const;
  std::string test_command(int np, const std::string& name, const std::string& extra) const;
  // Runs a command, failing the test (with its output) when it fails.
  std::string run_ok(const std::string& command) const;
  // ck/<run>/checkpoint/<tag>
  std::string checkpoint(const std::string& run, const std::string& tag) const {
    return path("ck/" + run + "/checkpoint/" + tag);
  }

 private:
  TempDir dir_{"fid-reader"};
};

// True when two model.safetensors files hold the same tensors, bit for bit.
bool same_weights(const std::string& a_file, const std::string& b_file);

}  // namespace fid::testing
