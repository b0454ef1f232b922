// `fid bm25`: sparse retrieval (iteration 0 of reader-to-retriever
// distillation), sharded across ranks (retrieval::bm25_retrieve).
#include "cli/command.h"
#include "retrieval/bm25_retrieval.h"

namespace fid::cli {
namespace {

class Bm25Command : public Command {
 public:
  std::string name() const override { return "bm25"; }
  std::string description() const override {
    return "BM25 retrieval over the passages, sharded across ranks (iteration 0)";
  }
  void add_options(CLI::App& app) override {
    app.add_option(flag("passages"), o_.passages, "passages TSV (id, text, title)")->required();
    app.add_option(flag("data"), o_.data, "questions (FiD JSON or JSONL)")->required();
    app.add_option(flag("output_path"), o_.output, "retrieval output (.json or .jsonl)")->required();
    app.add_option("--n-docs,--n_docs", o_.k, "passages per question")->capture_default_str();
    add_match_option(app, o_.match);
    app.add_option(flag("k1"), o_.params.k1, "BM25 k1")->capture_default_str();
    app.add_option("--b", o_.params.b, "BM25 b")->capture_default_str();
    app.add_option(flag("index_dir"), o_.index_dir,
                   "save each rank's index here, or load it when present");
  }

  void run(dist::Communicator& comm) override { retrieval::bm25_retrieve(comm, o_); }

 private:
  retrieval::Bm25RetrievalOptions o_;
};

}  // namespace

FID_REGISTER_COMMAND(Bm25Command, "bm25")

}  // namespace fid::cli
