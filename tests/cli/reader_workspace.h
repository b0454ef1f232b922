// The reader suites' workspace: a synthetic corpus, questions with three
// ctxs each, a tiny T5, and the train-reader/test-reader command lines.
#pragma once
#include <string>

#include "support/workspace.h"

namespace fid::testing {

class ReaderWorkspace : public Workspace {
 public:
  ReaderWorkspace();
  // "<fid> train-reader <common options> <extra>", optionally under mpiexec -n np.
  std::string train_command(int np, const std::string& name, const std::string& extra) const;
  std::string test_command(int np, const std::string& name, const std::string& extra) const;
  // ck/<run>/checkpoint/<tag>
  std::string checkpoint(const std::string& run, const std::string& tag) const {
    return path("ck/" + run + "/checkpoint/" + tag);
  }
};

// True when two model.safetensors files hold the same tensors, bit for bit.
bool same_weights(const std::string& a_file, const std::string& b_file);

}  // namespace fid::testing
