// `fid filter-passages`: the passage filter of the memory-efficient paper
// (retrieval::filter_passages): keeps the passages a linear classifier on
// their embeddings scores best, as new embedding shards `fid retrieve` reads.
#include "cli/command.h"
#include "retrieval/filter_job.h"

namespace fid::cli {
namespace {

class FilterPassagesCommand : public Command {
 public:
  std::string name() const override { return "filter-passages"; }
  std::string description() const override {
    return "Keep the passages a linear classifier on their embeddings scores best";
  }
  void add_options(CLI::App& app) override {
    app.add_option(flag("passages"), o_.passages, "passages TSV the embeddings are of")->required();
    app.add_option(flag("passages_embeddings"), o_.embeddings,
                   "manifest.json or glob of the embedding shards to filter")->required();
    app.add_option(flag("data"), o_.data,
                   "training retrieval file (FiD JSON/JSONL with ctxs): its top ctxs are the positives")
        ->required();
    app.add_option(flag("output_dir"), o_.output_dir,
                   "new directory for the kept shards, manifest.json and filter.json")->required();
    app.add_option(flag("keep_fraction"), o_.keep_fraction, "fraction of the passages kept")
        ->capture_default_str();
    app.add_option(flag("n_context"), o_.top_k, "ctxs of each training question taken as positives")
        ->capture_default_str();
    app.add_option(flag("negative_ratio"), o_.negative_ratio,
                   "sampled negatives per positive")->capture_default_str();
    app.add_option(flag("max_positives"), o_.max_positives,
                   "positives used at most (a uniform sample beyond)")->capture_default_str();
    app.add_option(flag("steps"), o_.classifier.steps, "full-batch Adam steps")->capture_default_str();
    app.add_option(flag("lr"), o_.classifier.lr, "Adam learning rate")->capture_default_str();
    app.add_option(flag("weight_decay"), o_.classifier.weight_decay, "L2 penalty on the weights")
        ->capture_default_str();
    app.add_option(flag("indexing_batch_size"), o_.block, "rows read from the shards at a time")
        ->capture_default_str();
    app.add_option("--seed", o_.seed, "sampling seed")->capture_default_str();
  }

  void run(dist::Communicator& comm) override { retrieval::filter_passages(comm, o_); }

 private:
  retrieval::FilterPassagesOptions o_;
};

}  // namespace

FID_REGISTER_COMMAND(FilterPassagesCommand, "filter-passages")

}  // namespace fid::cli
