// Options shared by train-reader and test-reader, with the seed's names and
// defaults (src/options.py: add_reader_options, add_optim_options).
#pragma once
#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "common/log.h"
#include "model/autocast.h"
#include "train/reader_trainer.h"

namespace fid::cli {

inline void add_reader_input_options(CLI::App& app, runtime::ReaderInputOptions& o) {
  app.add_option(flag("n_context"), o.n_context, "passages per question")->capture_default_str();
  app.add_option(flag("text_maxlength"), o.text_maxlength,
                 "maximum tokens of question + passage")->capture_default_str();
  app.add_option(flag("answer_maxlength"), o.answer_maxlength,
                 "maximum answer tokens in training (-1: no limit)")->capture_default_str();
  app.add_flag(flag("no_title"), o.no_title, "passages without their title");
}

inline void add_run_options(CLI::App& app, std::string& name, std::string& checkpoint_dir,
                            std::string& model_path, int64_t& batch, int64_t& seed) {
  app.add_option(flag("name"), name, "name of the experiment")->capture_default_str();
  app.add_option(flag("checkpoint_dir"), checkpoint_dir, "models and logs are saved here")
      ->capture_default_str();
  add_model_path(app, model_path, "model to start from")->capture_default_str();
  app.add_option(flag("per_gpu_batch_size"), batch, "batch size per rank")->capture_default_str();
  app.add_option(flag("seed"), seed, "random seed")->capture_default_str();
}

// Generation of the evaluation's answers (Hugging Face generate()'s names;
// Atlas calls --num_beams --generation_num_beams).
inline void add_generation_options(CLI::App& app, model::GenerationOptions& g) {
  app.add_option(flag("max_length"), g.max_length, "generation length, start token included")
      ->capture_default_str();
  app.add_option(flag("num_beams"), g.num_beams, "beam search with this many beams (1: greedy)")
      ->capture_default_str();
  app.add_option(flag("length_penalty"), g.length_penalty,
                 "beam score = sum of log-probabilities / length ** length_penalty")->capture_default_str();
  app.add_option(flag("min_length"), g.min_length, "no end of answer before this many positions")
      ->capture_default_str();
  app.add_flag(flag("early_stopping"), g.early_stopping,
               "stop an example's beam search once it has num_beams finished answers");
  app.add_option(flag("num_return_sequences"), g.num_return_sequences,
                 "answers per question, best first (final_output.txt: tab-separated)")->capture_default_str();
}

inline void add_precision_option(CLI::App& app, std::string& precision) {
  app.add_option(flag("precision"), precision,
                 "fp32 | bf16 | fp16 (autocast: products in the reduced type, norms, softmax and losses in "
                 "fp32; fp16 only with --device cuda, with dynamic loss scaling in training)")
      ->capture_default_str();
}

// fp16's dynamic loss scaling (train/loss_scaler.h): the scale it starts from.
inline void add_loss_scale_option(CLI::App& app, train::LossScalerOptions& o) {
  app.add_option(flag("loss_scale_init"), o.init_scale,
                 "--precision fp16: the loss scale to start from (halved at each overflow, doubled "
                 "after 2000 clean steps; torch.cuda.amp.GradScaler's 65536)")
      ->check(CLI::PositiveNumber)->capture_default_str();
}

// --precision's value, with a warning where bf16 is emulated (slower than fp32).
inline model::Precision reader_precision(const std::string& value) {
  const model::Precision p = model::parse_precision(value, "--precision");
  if (p == model::Precision::kBf16 && !model::cpu_has_native_bf16()) {
    log::warn("--precision bf16: this CPU has no native bfloat16 products (avx512_bf16/amx_bf16); "
              "they are emulated and slower than fp32 here");
  }
  return p;
}

// Evaluation, checkpoint and log frequencies (the seed's, plus --log_freq).
inline void add_loop_options(CLI::App& app, train::LoopOptions& o) {
  app.add_option(flag("eval_freq"), o.eval_freq, "steps between evaluations")->capture_default_str();
  app.add_option(flag("save_freq"), o.save_freq, "steps between checkpoints")->capture_default_str();
  app.add_option(flag("log_freq"), o.log_freq, "optimizer steps between metrics.jsonl records")
      ->capture_default_str();
  app.add_option(flag("allow_resume_changes"), o.allowed_changes,
                 "options a resumed run may give other values than the run it resumes (e.g. "
                 "total_steps,lr; 'all'); without it such a rerun is refused")
      ->delimiter(',');
}

inline void add_optim_options(CLI::App& app, train::ScheduleOptions& s, train::OptimOptions& o,
                              int64_t& accumulation_steps, double& dropout) {
  app.add_option(flag("warmup_steps"), s.warmup_steps)->capture_default_str();
  app.add_option(flag("total_steps"), s.total_steps)->capture_default_str();
  app.add_option(flag("scheduler_steps"), s.scheduler_steps,
                 "steps of the linear decay (default: total_steps)");
  app.add_option(flag("accumulation_steps"), accumulation_steps)->capture_default_str();
  app.add_option(flag("dropout"), dropout, "dropout rate, in [0, 1)")
      ->check(CLI::Validator(
          [](std::string& v) {
            double p = -1;
            try {
              p = std::stod(v);
            } catch (const std::exception&) {
            }
            return p >= 0 && p < 1 ? std::string() : "the dropout rate must be in [0, 1), got " + v;
          },
          "[0, 1)"))
      ->capture_default_str();
  app.add_option(flag("lr"), o.lr, "learning rate")->capture_default_str();
  app.add_option(flag("clip"), o.clip, "gradient clipping (max norm)")->capture_default_str();
  app.add_option(flag("optim"), o.optim, "adam | adamw")
      ->check(CLI::IsMember({"adam", "adamw"}))->capture_default_str();
  app.add_option(flag("scheduler"), s.kind, "fixed | linear")
      ->check(CLI::IsMember({"fixed", "linear"}))->capture_default_str();
  app.add_option(flag("weight_decay"), o.weight_decay)->capture_default_str();
  app.add_flag(flag("fixed_lr"), s.fixed_lr, "linear warm-up, then a constant rate");
}

}  // namespace fid::cli
