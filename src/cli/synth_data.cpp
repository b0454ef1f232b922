// `fid synth-data`: writes the synthetic corpus (passages.tsv) and question
// splits (train.json, dev.json, test.json in FiD's format) used by the main job.
#include "cli/command.h"
#include "data/synth_corpus.h"
#include "common/files.h"
#include "common/log.h"
#include "data/example_writer.h"
#include "data/passages.h"

namespace fid::cli {
namespace {

class SynthDataCommand : public Command {
 public:
  std::string name() const override { return "synth-data"; }
  std::string description() const override {
    return "Generate a deterministic synthetic corpus and question splits (demo and tests)";
  }
  bool distributed() const override { return false; }

  void add_options(CLI::App& app) override {
    app.add_option(flag("output_dir"), output_dir_, "directory for passages.tsv, train/dev/test.json")
        ->required();
    app.add_option(flag("seed"), options_.seed, "random seed")->capture_default_str();
    app.add_option(flag("people"), options_.people, "people (one passage each; 4 questions each)")
        ->capture_default_str();
    app.add_option(flag("mentions"), options_.mentions,
                   "other people each passage mentions (distractors)")->capture_default_str();
    app.add_option(flag("words"), options_.words, "approximate words per passage")
        ->capture_default_str();
    app.add_option(flag("dev_fraction"), options_.dev_fraction)->capture_default_str();
    app.add_option(flag("test_fraction"), options_.test_fraction)->capture_default_str();
  }

  void run(dist::Communicator&) override {
    make_directories(output_dir_);
    data::SynthCorpus corpus = data::make_synth_corpus(options_);
    data::PassageWriter passages(join_path(output_dir_, "passages.tsv"));
    for (const auto& p : corpus.passages) passages.write(p);
    passages.close();
    data::write_examples(join_path(output_dir_, "train.json"), corpus.train,
                         data::DatasetFormat::kJsonArray);
    data::write_examples(join_path(output_dir_, "dev.json"), corpus.dev,
                         data::DatasetFormat::kJsonArray);
    data::write_examples(join_path(output_dir_, "test.json"), corpus.test,
                         data::DatasetFormat::kJsonArray);
    log::info("synth-data: ", corpus.passages.size(), " passages, ", corpus.train.size(),
              " train / ", corpus.dev.size(), " dev / ", corpus.test.size(),
              " test questions in ", output_dir_);
  }

 private:
  std::string output_dir_;
  data::SynthOptions options_;
};

}  // namespace

FID_REGISTER_COMMAND(SynthDataCommand, "synth-data")

}  // namespace fid::cli
