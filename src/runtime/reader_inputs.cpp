#include "runtime/reader_inputs.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/error.h"
#include "common/files.h"
#include "runtime/host_tensor.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/t5_io.h"
#include "text/fid_encoding.h"

namespace fid::runtime {

LoadedReader load_reader(const std::string& dir, std::optional<double> dropout) {
  FID_CHECK(is_directory(dir), "reader model directory '", dir,
            "' does not exist (give --model_path a T5 directory; `fid init-model --arch t5` "
            "creates one)");
  const std::string spiece = join_path(dir, "spiece.model");
  FID_CHECK(path_exists(spiece), "'", dir, "' has no spiece.model: the reader's tokenizer must "
            "be saved with the model");
  model::T5Config config = model::T5Config::from_hf(model::HfConfig::load(join_path(dir, "config.json")));
  if (dropout) config.dropout_rate = *dropout;
  auto weights = model::read_model_weights(dir);
  auto t5 = model::build_t5(config, weights, dir);
  text::T5TokenizerOptions tok;
  tok.convention = t5->config().tokenizer_appends_eos ? text::T5Convention::kV4
                                                      : text::T5Convention::kV302;
  return LoadedReader{t5, text::T5Tokenizer::load(spiece, tok), dir, spiece};
}

std::string training_target(const data::Example& ex, uint64_t choice) {
  if (ex.has_target) return ex.target;
  FID_CHECK(!ex.answers.empty(), "example '", ex.id,
            "' has neither `target` nor `answers`: training needs one of them");
  return ex.answers[choice % ex.answers.size()];
}

ReaderBatch make_reader_batch(const text::T5Tokenizer& tokenizer,
                              const std::vector<const data::Example*>& examples,
                              const std::vector<std::string>& targets,
                              const ReaderInputOptions& options) {
  std::vector<text::FidTextExample> texts;
  texts.reserve(examples.size());
  for (size_t k = 0; k < examples.size(); ++k) {
    const data::Example& ex = *examples[k];
    text::FidTextExample t;
    t.question = text::format_question(ex.question);
    // The seed stacks every example's passages into one tensor: all need n_context.
    FID_CHECK(static_cast<int64_t>(ex.ctxs.size()) >= options.n_context, "example '", ex.id,
              "' has ", ex.ctxs.size(), " ctxs but --n_context is ", options.n_context,
              ": retrieve more passages or lower --n_context");
    for (int64_t j = 0; j < options.n_context; ++j) {
      const auto& c = ex.ctxs[static_cast<size_t>(j)];
      t.passages.push_back(options.no_title ? "context: " + c.text
                                            : text::format_passage(c.title, c.text));
    }
    if (options.with_targets) t.target = text::format_target(targets.at(k));
    texts.push_back(std::move(t));
  }
  text::FidBatchOptions bo;
  bo.text_maxlength = options.text_maxlength;
  bo.answer_maxlength = options.answer_maxlength;
  bo.with_targets = options.with_targets;
  text::FidBatch fb = text::encode_fid_batch(tokenizer, texts, bo);

  ReaderBatch out;
  out.passage_ids = long_tensor(fb.passage_ids, {fb.batch, fb.n_passages, fb.length});
  out.passage_mask = long_tensor(fb.passage_mask, {fb.batch, fb.n_passages, fb.length});
  if (options.with_targets) {
    out.labels = long_tensor(fb.target_ids, {fb.batch, fb.target_length});
    for (int64_t v : fb.target_ids) out.label_tokens += v != -100 ? 1 : 0;
  }
  return out;
}

void move_to(ReaderBatch& b, const c10::Device& device) {
  b.passage_ids = b.passage_ids.to(device);
  b.passage_mask = b.passage_mask.to(device);
  if (b.labels.defined()) b.labels = b.labels.to(device);
}

}  // namespace fid::runtime
