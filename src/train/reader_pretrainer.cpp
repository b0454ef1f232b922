#include "train/reader_pretrainer.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/files.h"
#include "data/passages.h"
#include "model/fid.h"
#include "model/t5_io.h"
#include "text/fid_encoding.h"
#include "runtime/host_tensor.h"
#include "runtime/reader_inputs.h"

namespace fid::train {
namespace {

class PretrainTask : public TrainTask {
 public:
  PretrainTask(const ReaderPretrainOptions& o, const std::string& model_dir, const c10::Device& device)
      : o_(o), device_(device), lr_(runtime::load_reader(model_dir, o.dropout)), reader_(lr_.t5),
        passages_(o.passages), slots_(static_cast<size_t>(o.loop.accumulation_steps)) {
    lr_.t5->to(device_);
    FID_CHECK(passages_.size() > 0, "--passages '", o.passages, "' holds no passage");
    // T5 numbers its sentinels down from the top of the vocabulary.
    const int64_t first_extra = lr_.tokenizer.model().piece_size();
    for (int k = 0; k < lr_.tokenizer.vocab_size() - first_extra; ++k) {
      sentinels_.push_back(static_cast<int32_t>(lr_.tokenizer.token_to_id("<extra_id_" + std::to_string(k) + ">")));
    }
    FID_CHECK(!sentinels_.empty(), "the tokenizer of '", model_dir,
              "' has no <extra_id_N> sentinels: span corruption needs T5's (train-tokenizer adds 100)");
  }
  torch::nn::Module& module() override { return *lr_.t5; }
  int64_t num_examples() const override { return passages_.size(); }

  double prepare(int slot, const std::vector<int64_t>& indices, int64_t step) override {
    const auto b = static_cast<int64_t>(indices.size());
    std::vector<std::vector<int32_t>> inputs, targets;
    int64_t in_len = 1, out_len = 1;
    data::Passage p;
    for (int64_t index : indices) {
      passages_.read_row(index, p);
      std::vector<int32_t> tokens;
      lr_.tokenizer.text_to_ids(text::format_passage(p.title, p.text), tokens);
      // Room for </s>: the corrupted input is never longer than the text.
      if (static_cast<int64_t>(tokens.size()) > o_.text_maxlength - 1)
        tokens.resize(static_cast<size_t>(o_.text_maxlength - 1));
      const uint64_t seed = static_cast<uint64_t>(step) * 1000003ULL + static_cast<uint64_t>(index);
      text::CorruptedText c = text::corrupt_spans(tokens, sentinels_, o_.spans, seed);
      c.input.push_back(lr_.tokenizer.eos_id());
      c.target.push_back(lr_.tokenizer.eos_id());
      in_len = std::max<int64_t>(in_len, static_cast<int64_t>(c.input.size()));
      out_len = std::max<int64_t>(out_len, static_cast<int64_t>(c.target.size()));
      inputs.push_back(std::move(c.input));
      targets.push_back(std::move(c.target));
    }
    // One passage per "question": (B, 1, L) as the FiD encoder takes it.
    std::vector<int64_t> ids(static_cast<size_t>(b * in_len), lr_.tokenizer.pad_id());
    std::vector<int64_t> mask(ids.size(), 0);
    std::vector<int64_t> labels(static_cast<size_t>(b * out_len), -100);
    int64_t label_tokens = 0;
    for (int64_t r = 0; r < b; ++r) {
      const auto& in = inputs[static_cast<size_t>(r)];
      const auto& t = targets[static_cast<size_t>(r)];
      for (size_t k = 0; k < in.size(); ++k) {
        ids[static_cast<size_t>(r * in_len) + k] = in[k];
        mask[static_cast<size_t>(r * in_len) + k] = 1;
      }
      for (size_t k = 0; k < t.size(); ++k) labels[static_cast<size_t>(r * out_len) + k] = t[k];
      label_tokens += static_cast<int64_t>(t.size());
    }
    runtime::ReaderBatch& s = slots_[static_cast<size_t>(slot)];
    s.passage_ids = runtime::long_tensor(ids, {b, 1, in_len});
    s.passage_mask = runtime::long_tensor(mask, {b, 1, in_len});
    s.labels = runtime::long_tensor(labels, {b, out_len});
    s.label_tokens = label_tokens;
    runtime::move_to(s, device_);
    return static_cast<double>(label_tokens);
  }

  at::Tensor loss(int slot) override {
    runtime::ReaderBatch& b = slots_[static_cast<size_t>(slot)];
    model::AutocastScope autocast(o_.precision, device_.type());
    return reader_.forward(b.passage_ids, b.passage_mask, b.labels).loss;
  }
  // No dev set: the warm start is judged by the reader trained from it.
  std::map<std::string, double> evaluate(dist::Communicator&) override { return {}; }
  std::string selection_metric() const override { return "loss"; }
  bool higher_is_better() const override { return false; }
  void save_model(const std::string& dir) override { model::save_t5(*lr_.t5, dir, lr_.tokenizer_file); }

 private:
  const ReaderPretrainOptions& o_;
  c10::Device device_;
  runtime::LoadedReader lr_;
  model::FidReader reader_;
  data::PassageStore passages_;
  std::vector<int32_t> sentinels_;
  std::vector<runtime::ReaderBatch> slots_;
};

}  // namespace

void pretrain_reader(dist::Communicator& comm, const ReaderPretrainOptions& options) {
  ReaderPretrainOptions o = options;
  const c10::Device device = training_device(comm, o.loop, o.precision);
  FID_CHECK(!o.passages.empty() && path_exists(o.passages), "--passages '", o.passages,
            "' does not exist (a DPR passages TSV: id, text, title)");
  FID_CHECK(o.text_maxlength >= 8, "--text_maxlength must be at least 8, not ", o.text_maxlength);
  StartPoint start = start_point(comm, o.loop, o.model_path);
  PretrainTask task(o, start.model_dir, device);
  run_training(comm, task, o.loop, start);
}

}  // namespace fid::train
