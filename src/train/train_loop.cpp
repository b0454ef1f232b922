#include "train/train_loop.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/stop_request.h"
#include "dist/agreement.h"
#include "dist/collectives.h"
#include "dist/grad_reducer.h"
#include "data/example_reader.h"
#include "runtime/placement.h"
#include "train/checkpoint.h"
#include "train/data_order.h"
#include "train/run_log.h"

namespace fid::train {
namespace {

void validate(const LoopOptions& o) {
  FID_CHECK(o.per_gpu_batch_size > 0, "--per_gpu_batch_size must be positive");
  FID_CHECK(o.accumulation_steps > 0, "--accumulation_steps must be positive");
  FID_CHECK(o.schedule.total_steps > 0, "--total_steps must be positive");
  FID_CHECK(o.eval_freq > 0 && o.save_freq > 0 && o.log_freq > 0,
            "--eval_freq, --save_freq and --log_freq must be positive");
  // A checkpoint in the middle of an accumulation group would lose the
  // gradients gathered so far and make resuming inexact.
  FID_CHECK(o.save_freq % o.accumulation_steps == 0 && o.eval_freq % o.accumulation_steps == 0,
            "--save_freq and --eval_freq must be multiples of --accumulation_steps");
}

// "--warmup-steps", "warmup_steps" -> "warmup_steps".
std::string seed_name(std::string name) {
  name.erase(0, name.find_first_not_of('-'));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace

const char* const kResumeFreeOptions[] = {"name",      "checkpoint_dir",  "eval_freq",
                                          "save_freq", "log_freq",        "eval_data",
                                          "eval_print_freq", "max_eval_examples",
                                          "allow_resume_changes",
                                          // where it runs: a checkpoint resumes on any device
                                          "device",
                                          // how the evaluation generates answers
                                          "max_length", "num_beams", "length_penalty", "min_length",
                                          "early_stopping", "num_return_sequences", nullptr};

void check_resume_options(const std::map<std::string, std::string>& recorded,
                          const std::map<std::string, std::string>& current,
                          const std::vector<std::string>& allowed_changes, const std::string& checkpoint) {
  std::set<std::string> free;
  for (const char* const* f = kResumeFreeOptions; *f != nullptr; ++f) free.insert(*f);
  for (const std::string& a : allowed_changes) {
    if (seed_name(a) == "all") return;
    free.insert(seed_name(a));
  }
  auto kept = [&](const std::map<std::string, std::string>& m) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : m)
      if (!free.count(seed_name(k))) out["--" + seed_name(k)] = v;
    return out;
  };
  const std::string diff = dist::map_differences(kept(recorded), kept(current), "was", "now");
  FID_CHECK(diff.empty(), "this run resumes '", checkpoint, "' with other options than it was started with:",
            diff, "\nHINT: rerun with the recorded options, give another --name for a new run, or "
                  "list the options you mean to change in --allow_resume_changes (e.g. "
                  "--allow_resume_changes total_steps,lr; 'all' for any)");
}

StartPoint start_point(dist::Communicator& comm, const LoopOptions& options,
                       const std::string& model_path) {
  CheckpointManager ckpt(options.checkpoint_dir, options.name);
  const std::string resume = dist::broadcast_string(comm, comm.rank() == 0 ? ckpt.latest() : "");
  const std::string dir = resume.empty() ? model_path : resume;
  FID_CHECK(!dir.empty() && dir != "none",
            "--model_path is required for a new run (`fid init-model` creates a model "
            "directory); pretrained downloads are not available");
  return StartPoint{dir, !resume.empty()};
}

void run_training(dist::Communicator& comm, TrainTask& task, const LoopOptions& o,
                  const StartPoint& start) {
  validate(o);
  const int rank = comm.rank();
  const int world = comm.size();
  CheckpointManager ckpt(o.checkpoint_dir, o.name);
  // One job per run: a second one would write the same checkpoints.
  const auto lock = dist::take_run_lock(comm, ckpt.run_dir(), "the run directory (--checkpoint_dir/--name)");
  std::vector<at::Tensor> params = task.module().parameters();
  auto optimizer = make_optimizer(o.optim, params);
  LrSchedule schedule(o.schedule);

  int64_t step = 0;
  LossScaler scaler(o.loss_scaling);
  const bool higher = task.higher_is_better();
  double best = higher ? -1e300 : 1e300;
  at::manual_seed(static_cast<uint64_t>(o.seed + rank));  // dropout differs per rank, as in the seed
  if (start.resume) {
    LoadedCheckpoint ck = open_checkpoint(start.model_dir, optimizer.get());
    step = ck.state.at("step").get<int64_t>();
    best = ck.state.value("best_eval_metric", best);
    if (scaler.enabled() && ck.state.contains("loss_scaler")) scaler.load_state(ck.state.at("loss_scaler"));
    if (ck.state.contains("command_line")) {
      check_resume_options(ck.state.at("command_line").get<std::map<std::string, std::string>>(),
                           o.command_line, o.allowed_changes, start.model_dir);
    } else {
      log::warn("'", start.model_dir, "' records no command line (written by an older fid): "
                "the options of this run are not compared with the interrupted one's");
    }
    const int saved_world = ck.state.value("world_size", world);
    auto it = ck.tensors.find("rng_rank" + std::to_string(rank));
    if (saved_world == world && it != ck.tensors.end()) {
      set_cpu_rng_state(it->second);
    } else {
      log::warn("resuming with ", world, " ranks a run saved with ", saved_world,
                ": dropout randomness will differ from an uninterrupted run");
    }
    log::info("resuming '", start.model_dir, "' at step ", step);
  }
  dist::broadcast_parameters(comm, params);
  dist::GradReducer reducer(comm, params);

  const int64_t global_batch = o.per_gpu_batch_size * world;
  DataOrder order(task.num_examples(), global_batch, static_cast<uint64_t>(o.seed));
  log::info(o.name, ": ", task.num_examples(), " examples, ", world, " ranks x batch ",
            o.per_gpu_batch_size, ", ", order.batches_per_epoch(), " steps per epoch");
  std::unique_ptr<RunLogger> run_log;
  if (rank == 0) run_log = std::make_unique<RunLogger>(ckpt.run_dir(), step);

  auto save = [&](const std::string& tag) {
    // Every rank's RNG goes into the checkpoint: resuming restores each one.
    at::Tensor states = dist::all_gather_tensor(comm, cpu_rng_state());
    if (rank == 0) {
      std::map<std::string, at::Tensor> tensors;
      for (int r = 0; r < world; ++r) tensors["rng_rank" + std::to_string(r)] = states[r].clone();
      nlohmann::json st = {{"step", step}, {"best_eval_metric", best}, {"world_size", world},
                           {"per_gpu_batch_size", o.per_gpu_batch_size}, {"seed", o.seed},
                           {"command_line", o.command_line}};
      if (scaler.enabled()) st["loss_scaler"] = scaler.state();
      ckpt.save(tag, [&](const std::string& dir) { task.save_model(dir); }, optimizer.get(), st,
                tensors, /*update_latest=*/true);
      log::info("saved checkpoint ", tag, " at step ", step);
    }
    comm.barrier();
  };

  task.module().train();
  // SIGTERM / SIGUSR1 (a scheduler's notice) stop the run at a step boundary.
  install_stop_handlers();
  bool stop = false;
  double group_weight = 0;  // loss weight of the whole group, all ranks
  std::vector<double> weights(static_cast<size_t>(o.accumulation_steps));
  double loss_sum = 0;  // sum of weighted losses of this group on this rank
  double interval_loss = 0;
  int64_t interval_groups = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (step < o.schedule.total_steps) {
    const int slot = static_cast<int>(step % o.accumulation_steps);
    if (slot == 0) {
      // Collate the whole group first: the loss is normalised by the weight
      // of every micro-batch on every rank.
      double local = 0;
      for (int a = 0; a < o.accumulation_steps; ++a) {
        auto idx = order.rank_slice(step + a, rank, o.per_gpu_batch_size);
        weights[static_cast<size_t>(a)] = task.prepare(a, idx, step + a);
        local += weights[static_cast<size_t>(a)];
      }
      group_weight = dist::all_reduce_sum(comm, local);
      FID_CHECK(group_weight > 0, "a training batch carries no loss (no target tokens or scores)");
      loss_sum = 0;
    }
    at::Tensor loss = task.loss(slot);
    const double w = weights[static_cast<size_t>(slot)];
    // A share of the global mean: summing over ranks and micro-batches gives
    // it. With fp16, scaled up so that small gradients survive float16.
    (loss * (w / group_weight * scaler.scale())).backward();
    loss_sum += loss.item<double>() * w;
    ++step;

    if (step % o.accumulation_steps == 0) {
      reducer.reduce(1.0);
      // The reduced gradients are the same on every rank, so every rank
      // finds the same overflow and skips the same step.
      const bool overflow = !scaler.unscale(params);
      const int64_t opt_steps = step / o.accumulation_steps - 1;
      if (!overflow) {
        clip_gradients(params, o.optim.clip);
        set_learning_rate(*optimizer, o.optim.lr * schedule.factor(opt_steps));
        optimizer->step();
      } else {
        log::warn("step ", step, ": float16 gradients overflowed at loss scale ", scaler.scale(),
                  "; the update is skipped and the scale halved");
      }
      scaler.update(overflow);
      clear_gradients(params);
      // The loss and whether any rank was asked to stop, in one collective:
      // every rank learns of a stop request at the same step.
      std::vector<double> sums = {loss_sum, stop_requested() ? 1.0 : 0.0};
      comm.all_reduce_doubles(sums, dist::ReduceOp::kSum);
      stop = sums[1] > 0;
      const double group_loss = sums[0] / group_weight;
      interval_loss += group_loss;
      ++interval_groups;
      if (rank == 0 && (step / o.accumulation_steps) % o.log_freq == 0) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double examples = static_cast<double>(global_batch * o.accumulation_steps * o.log_freq);
        std::map<std::string, double> record = {{"loss", group_loss}, {"lr", learning_rate(*optimizer)},
                                                {"examples_per_s", examples / secs}};
        if (scaler.enabled()) {
          record["loss_scale"] = scaler.scale();
          record["skipped_steps"] = static_cast<double>(scaler.skipped_steps());
        }
        run_log->log(step, record);
        t0 = std::chrono::steady_clock::now();
      }
    }
    if (step % o.eval_freq == 0) {
      auto metrics = task.evaluate(comm);
      if (!metrics.empty()) {
        const double train_loss = interval_groups ? interval_loss / static_cast<double>(interval_groups) : 0.0;
        const double value = metrics.at(task.selection_metric());
        log::info(step, " / ", o.schedule.total_steps, " | train: ", train_loss, " | ",
                  task.selection_metric(), ": ", value, " | lr: ", learning_rate(*optimizer));
        metrics["train_loss"] = train_loss;
        if (rank == 0) run_log->log(step, metrics);
        interval_loss = 0;
        interval_groups = 0;
        if (higher ? value > best : value < best) {
          best = value;
          save("best_dev");
        }
      }
    }
    if (step % o.save_freq == 0) save("step-" + std::to_string(step));
    if (stop && step < o.schedule.total_steps) {
      if (step % o.save_freq != 0) save("step-" + std::to_string(step));
      throw Preempted(detail::concat("stopped at step ", step, " of ", o.schedule.total_steps, " on request (",
                                     stop_requested() ? stop_signal_name() : "a peer's signal",
                                     "); the checkpoint is saved: run the same command to resume"));
    }
    // Throughput counts training only, not evaluation or checkpoint writes.
    if (step % o.eval_freq == 0 || step % o.save_freq == 0) t0 = std::chrono::steady_clock::now();
  }
  if (o.schedule.total_steps % o.save_freq != 0) save("step-" + std::to_string(step));
}

void check_every_example(dist::Communicator& comm, const std::string& path, const data::ReaderOptions& options,
                         const std::function<void(const data::Example&)>& check) {
  if (path.empty() || path == "none") return;
  data::ReaderOptions mine = options;
  mine.shard_rank = comm.rank();
  mine.shard_world = comm.size();
  data::ExampleReader in(path, mine);
  data::Example ex;
  while (in.next(ex)) check(ex);
}

c10::Device training_device(dist::Communicator& comm, LoopOptions& o, model::Precision precision) {
  const c10::Device device = runtime::parse_device(o.device, comm.local_rank());
  model::check_precision_on(precision, device.type());
  o.loss_scaling.enabled = precision == model::Precision::kFp16;
  if (!device.is_cpu()) log::info("training on ", device.str(), " (", model::to_string(precision), ")");
  return device;
}

void check_training_inputs(const std::string& train_data, const std::string& eval_data,
                           int64_t n_context) {
  FID_CHECK(!train_data.empty() && train_data != "none", "--train_data is required");
  FID_CHECK(path_exists(train_data), "--train_data '", train_data, "' does not exist");
  FID_CHECK(eval_data.empty() || eval_data == "none" || path_exists(eval_data), "--eval_data '",
            eval_data, "' does not exist");
  FID_CHECK(n_context > 0, "--n_context must be positive");
}

}  // namespace fid::train
