// `fid import-embeddings`: FiD's released passage embeddings (pickle files of
// generate_passage_embeddings.py) as HDF5 shards and a manifest that
// `retrieve` searches (retrieval::import_embeddings).
#include "cli/command.h"
#include "retrieval/import_job.h"

namespace fid::cli {
namespace {

class ImportEmbeddingsCommand : public Command {
 public:
  std::string name() const override { return "import-embeddings"; }
  std::string description() const override {
    return "Convert FiD's passage embedding pickles (passages_00 ...) to HDF5 shards and a manifest";
  }
  void add_options(CLI::App& app) override {
    app.add_option(flag("embeddings"), o_.embeddings,
                   "FiD's embedding files, a glob (\"wikipedia_embeddings/passages_*\"), read in name order")
        ->required();
    app.add_option(flag("passages"), o_.passages, "the passages TSV they were made from")->required();
    app.add_option(flag("output_path"), o_.output,
                   "shard prefix (emb/passages -> emb/passages_00000.h5 ...) or a directory; manifest.json "
                   "is written beside the shards")->required();
    add_model_path(app, o_.model_path, "the retriever that made them, recorded so that `retrieve` "
                                       "can check its --model_path (optional)");
    app.add_option(flag("dtype"), o_.dtype, "stored vectors: float16 or float32 (default: as in the files)");
  }
  void run(dist::Communicator& comm) override { retrieval::import_embeddings(comm, o_); }

 private:
  retrieval::ImportEmbeddingsOptions o_;
};

}  // namespace

FID_REGISTER_COMMAND(ImportEmbeddingsCommand, "import-embeddings")

}  // namespace fid::cli
