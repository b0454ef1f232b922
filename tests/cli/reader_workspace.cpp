#include "cli/reader_workspace.h"

#include "model/safetensors.h"

#include <gtest/gtest.h>

#include "data/example_reader.h"
#include "data/example_writer.h"
#include "data/passages.h"

namespace fid::testing {

ReaderWorkspace::ReaderWorkspace() : Workspace("fid-reader") {
  synth_data(40);
  tiny_t5("t5", 5);
  // Three ctxs per question: the person's own passage and two others, with
  // decreasing scores (the reader keeps the top n_context by score).
  const std::vector<data::Passage> all = read_passages(passages());
  for (const char* split : {"train", "dev"}) {
    auto examples = data::read_examples(path(std::string("data/") + split + ".json"));
    for (size_t i = 0; i < examples.size(); ++i) {
      for (size_t j = 0; j < 3; ++j) {
        const auto& q = all[(i * 7 + j * 13) % all.size()];
        data::Context c;
        c.id = q.id;
        c.title = q.title;
        c.text = q.text;
        c.score = 3.0 - static_cast<double>(j);
        c.has_score = true;
        examples[i].ctxs.push_back(c);
      }
    }
    data::write_examples(path(std::string(split) + ".jsonl"), examples, data::DatasetFormat::kJsonLines);
  }
}

std::string ReaderWorkspace::train_command(int np, const std::string& name,
                                           const std::string& extra) const {
  return mpi_launch(np) + fid_binary() + " train-reader --threads 1 --train_data " + path("train.jsonl") +
         " --model_path " + path("t5") + " --checkpoint_dir " + path("ck") + " --name " + name +
         " --n_context 2 --text_maxlength 48 --answer_maxlength 8 --lr 1e-3 --optim adamw "
         "--scheduler linear --warmup_steps 2 " + extra;
}

std::string ReaderWorkspace::test_command(int np, const std::string& name,
                                          const std::string& extra) const {
  return mpi_launch(np) + fid_binary() + " test-reader --threads 1 --eval_data " + path("dev.jsonl") +
         " --checkpoint_dir " + path("ck") + " --name " + name +
         " --n_context 2 --text_maxlength 48 " + extra;
}

bool same_weights(const std::string& a_file, const std::string& b_file) {
  auto wa = model::read_safetensors(a_file), wb = model::read_safetensors(b_file);
  if (wa.size() != wb.size()) return false;
  for (const auto& [k, t] : wa)
    if (!wb.count(k) || !t.equal(wb.at(k))) return false;
  return true;
}

}  // namespace fid::testing
