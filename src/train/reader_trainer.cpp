#include "train/reader_trainer.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "data/indexed_dataset.h"
#include "dist/collectives.h"
#include "dist/grad_reducer.h"
#include "model/t5_io.h"
#include "train/checkpoint.h"
#include "train/data_order.h"
#include "train/run_log.h"

namespace fid::train {
namespace {

void validate(const ReaderTrainOptions& o, int world) {
  FID_CHECK(!o.train_data.empty() && o.train_data != "none", "--train_data is required");
  FID_CHECK(path_exists(o.train_data), "--train_data '", o.train_data, "' does not exist");
  FID_CHECK(o.eval_data.empty() || o.eval_data == "none" || path_exists(o.eval_data),
            "--eval_data '", o.eval_data, "' does not exist");
  FID_CHECK(o.per_gpu_batch_size > 0, "--per_gpu_batch_size must be positive");
  FID_CHECK(o.accumulation_steps > 0, "--accumulation_steps must be positive");
  FID_CHECK(o.schedule.total_steps > 0, "--total_steps must be positive");
  FID_CHECK(o.input.n_context > 0, "--n_context must be positive");
  // A checkpoint in the middle of an accumulation group would lose the
  // gradients gathered so far and make resuming inexact.
  FID_CHECK(o.save_freq % o.accumulation_steps == 0 && o.eval_freq % o.accumulation_steps == 0,
            "--save_freq and --eval_freq must be multiples of --accumulation_steps");
  (void)world;
}

struct Group {
  std::vector<ReaderBatch> batches;  // this rank's micro-batches
  int64_t global_tokens = 0;         // label tokens of the whole group, all ranks
};

}  // namespace

void train_reader(dist::Communicator& comm, const ReaderTrainOptions& o) {
  validate(o, comm.size());
  const int rank = comm.rank();
  const int world = comm.size();
  CheckpointManager ckpt(o.checkpoint_dir, o.name);
  const std::string resume = dist::broadcast_string(comm, rank == 0 ? ckpt.latest() : "");
  const std::string model_dir = resume.empty() ? o.model_path : resume;
  FID_CHECK(model_dir != "none" && !model_dir.empty(),
            "--model_path is required for a new run (a T5 directory; `fid init-model --arch t5` "
            "creates one); pretrained downloads are not available");

  LoadedReader lr = load_reader(model_dir, o.dropout);
  lr.t5->set_gradient_checkpointing(o.use_checkpoint);
  model::FidReader reader(lr.t5);
  std::vector<at::Tensor> params = lr.t5->parameters();
  auto optimizer = make_optimizer(o.optim, params);
  LrSchedule schedule(o.schedule);

  int64_t step = 0;
  double best_em = -1.0;
  at::manual_seed(static_cast<uint64_t>(o.seed + rank));  // dropout differs per rank, as in the seed
  if (!resume.empty()) {
    LoadedCheckpoint ck = open_checkpoint(resume, optimizer.get());
    step = ck.state.at("step").get<int64_t>();
    best_em = ck.state.value("best_eval_metric", -1.0);
    const int saved_world = ck.state.value("world_size", world);
    auto it = ck.tensors.find("rng_rank" + std::to_string(rank));
    if (saved_world == world && it != ck.tensors.end()) {
      set_cpu_rng_state(it->second);
    } else {
      log::warn("resuming with ", world, " ranks a run saved with ", saved_world,
                ": dropout randomness will differ from an uninterrupted run");
    }
    log::info("resuming '", resume, "' at step ", step);
  }
  dist::broadcast_parameters(comm, params);
  dist::GradReducer reducer(comm, params);

  data::ReaderOptions ro;
  ro.n_context = o.input.n_context;
  ro.sort_by_score = true;
  data::IndexedDataset train(o.train_data, ro);
  const int64_t global_batch = o.per_gpu_batch_size * world;
  DataOrder order(train.size(), global_batch, static_cast<uint64_t>(o.seed));
  log::info("train-reader: ", train.size(), " examples, ", world, " ranks x batch ",
            o.per_gpu_batch_size, ", ", order.batches_per_epoch(), " steps per epoch");

  std::unique_ptr<RunLogger> run_log;
  if (rank == 0) run_log = std::make_unique<RunLogger>(ckpt.run_dir());
  make_directories(ckpt.run_dir());

  auto save = [&](const std::string& tag) {
    // Every rank's RNG goes into the checkpoint: resuming restores each one.
    at::Tensor state = cpu_rng_state();
    at::Tensor states = dist::all_gather_tensor(comm, state);
    if (rank == 0) {
      std::map<std::string, at::Tensor> tensors;
      for (int r = 0; r < world; ++r) tensors["rng_rank" + std::to_string(r)] = states[r].clone();
      nlohmann::json st = {{"step", step}, {"best_eval_metric", best_em}, {"world_size", world},
                           {"per_gpu_batch_size", o.per_gpu_batch_size}, {"seed", o.seed},
                           {"train_data", o.train_data}};
      ckpt.save(tag, [&](const std::string& dir) { model::save_t5(*lr.t5, dir, lr.tokenizer_file); },
                optimizer.get(), st, tensors, /*update_latest=*/true);
      log::info("saved checkpoint ", tag, " at step ", step);
    }
    comm.barrier();
  };

  ReaderEvalOptions eval_opt;
  eval_opt.input = o.input;
  eval_opt.batch_size = o.per_gpu_batch_size;
  eval_opt.max_examples = o.max_eval_examples;
  const bool has_eval = !o.eval_data.empty() && o.eval_data != "none";

  lr.t5->train();
  Group group;
  double loss_sum = 0;  // sum of token losses of this group on this rank
  double interval_loss = 0;
  int64_t interval_groups = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (step < o.schedule.total_steps) {
    if (step % o.accumulation_steps == 0) {
      // Collate the whole group first: the loss is normalised by the label
      // tokens of every micro-batch on every rank.
      group = Group{};
      loss_sum = 0;
      int64_t local_tokens = 0;
      for (int64_t a = 0; a < o.accumulation_steps; ++a) {
        std::vector<int64_t> idx = order.rank_slice(step + a, rank, o.per_gpu_batch_size);
        std::vector<data::Example> exs(idx.size());
        std::vector<const data::Example*> ptrs;
        std::vector<std::string> targets;
        for (size_t k = 0; k < idx.size(); ++k) {
          train.get(idx[k], exs[k]);
          ptrs.push_back(&exs[k]);
          targets.push_back(training_target(exs[k], order.choice(step + a, idx[k])));
        }
        group.batches.push_back(make_reader_batch(lr.tokenizer, ptrs, targets, o.input));
        local_tokens += group.batches.back().label_tokens;
      }
      group.global_tokens = dist::all_reduce_sum(comm, local_tokens);
      FID_CHECK(group.global_tokens > 0, "a training batch has no target tokens");
    }
    ReaderBatch& b = group.batches[static_cast<size_t>(step % o.accumulation_steps)];
    model::FidOutput out = reader.forward(b.passage_ids, b.passage_mask, b.labels);
    // out.loss is this micro-batch's mean over its tokens; rescale to a share
    // of the global mean so that summing over ranks and micro-batches gives it.
    const double share = static_cast<double>(b.label_tokens) / static_cast<double>(group.global_tokens);
    (out.loss * share).backward();
    loss_sum += out.loss.item<double>() * static_cast<double>(b.label_tokens);
    ++step;

    if (step % o.accumulation_steps == 0) {
      reducer.reduce(1.0);
      clip_gradients(params, o.optim.clip);
      const int64_t opt_steps = step / o.accumulation_steps - 1;
      set_learning_rate(*optimizer, o.optim.lr * schedule.factor(opt_steps));
      optimizer->step();
      optimizer->zero_grad();
      const double loss = dist::all_reduce_sum(comm, loss_sum) / static_cast<double>(group.global_tokens);
      interval_loss += loss;
      ++interval_groups;
      if (rank == 0 && (step / o.accumulation_steps) % o.log_freq == 0) {
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        run_log->log(step, {{"loss", loss}, {"lr", learning_rate(*optimizer)},
                            {"examples_per_s", static_cast<double>(global_batch * o.accumulation_steps *
                                                                   o.log_freq) / secs}});
        t0 = std::chrono::steady_clock::now();
      }
    }

    if (has_eval && step % o.eval_freq == 0) {
      ReaderEvalResult r = evaluate_reader(comm, reader, lr.tokenizer, o.eval_data, eval_opt);
      const double train_loss = interval_groups ? interval_loss / static_cast<double>(interval_groups) : 0.0;
      log::info(step, " / ", o.schedule.total_steps, " | train: ", train_loss, " | evaluation: ",
                100.0 * r.exact_match, "EM | lr: ", learning_rate(*optimizer));
      if (rank == 0) run_log->log(step, {{"eval_em", r.exact_match}, {"train_loss", train_loss}});
      interval_loss = 0;
      interval_groups = 0;
      if (r.exact_match > best_em) {
        best_em = r.exact_match;
        save("best_dev");
      }
    }
    if (step % o.save_freq == 0) save("step-" + std::to_string(step));
    // Throughput counts training only, not evaluation or checkpoint writes.
    if (step % o.eval_freq == 0 || step % o.save_freq == 0) t0 = std::chrono::steady_clock::now();
  }
  if (o.schedule.total_steps % o.save_freq != 0) save("step-" + std::to_string(step));
}

}  // namespace fid::train
