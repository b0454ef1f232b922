// `fid evaluate-retrieval`: the seed's evaluate_retrieved_passages.py
// (retrieval::evaluate_retrieval): top-k accuracy of a retrieval file.
#include <cstdio>

#include "cli/command.h"
#include "retrieval/evaluate_job.h"

namespace fid::cli {
namespace {

class EvaluateRetrievalCommand : public Command {
 public:
  std::string name() const override { return "evaluate-retrieval"; }
  std::string description() const override {
    return "Top-k answer accuracy of a retrieval file (ctxs with text or hasanswer)";
  }
  bool distributed() const override { return false; }
  void add_options(CLI::App& app) override {
    app.add_option(flag("data"), o_.data, "retrieval file (FiD JSON or JSONL with ctxs)")->required();
    app.add_option(flag("validation_workers"), o_.workers,
                   "threads that check answers in passages (0: all cores)")
        ->capture_default_str();
    add_match_option(app, o_.match);
    app.add_option(flag("passages"), o_.passages,
                   "passages TSV: text of ctxs that carry only an id");
    app.add_flag(flag("use_hasanswer"), o_.use_hasanswer,
                 "trust each ctx's stored hasanswer instead of matching the answers in its text");
    app.add_option(flag("output_path"), o_.output, "write the accuracies as JSON here");
  }

  void run(dist::Communicator&) override {
    std::printf("%s\n", retrieval::evaluate_retrieval(o_).dump().c_str());
  }

 private:
  retrieval::EvaluateRetrievalOptions o_;
};

}  // namespace

FID_REGISTER_COMMAND(EvaluateRetrievalCommand, "evaluate-retrieval")

}  // namespace fid::cli
