// A subcommand of `fid`: adds its options to its CLI11 sub-app, validates them
// and runs with the world communicator. Each subcommand's file registers one
// with FID_REGISTER_COMMAND; main() catches its errors and aborts the job.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/world.h"

namespace fid::cli {

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual void add_options(CLI::App& app) = 0;
  // False for commands that never talk to peers (e.g. train-tokenizer).
  virtual bool distributed() const { return true; }
  virtual void run(dist::Communicator& comm) = 0;
  // Options every command has (threads); set by main before run().
  dist::WorldOptions world;
  // The options this command line gave, as given_options() reads them; set
  // by main before run(). All ranks agree on them; trainers record them.
  std::map<std::string, std::string> given;
};

using CommandFactory = std::function<std::unique_ptr<Command>()>;
std::vector<std::pair<std::string, CommandFactory>>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, CommandFactory factory) {
    command_registry().emplace_back(name, std::move(factory));
  }
};

// "--n_context,--n-context": the seed's option name and its kebab-case alias.
std::string flag(const std::string& seed_name);

// The options the command line gave to `sub`: "--lr" -> "2e-3" (the seed's
// name, whichever alias was typed; repeated values joined by ','). Options
// left at their defaults are absent; --threads, which may differ per rank,
// and FiD's --local_rank and --main_port are left out.
std::map<std::string, std::string> given_options(const CLI::App& sub);

// --model_path: a model directory, or a Hugging Face model name that the
// local cache holds, replaced by its snapshot directory as the command line
// is read (model::resolve_model_dir); "none" stays "none".
CLI::Option* add_model_path(CLI::App& app, std::string& path, const std::string& help);

// --match string|regex: how a passage is judged to contain an answer
// (text::AnswerMatch), for the top-k accuracy and hasanswer.
CLI::Option* add_match_option(CLI::App& app, std::string& match);

// The second line of --version: LibTorch's version and whether this build
// has CUDA and NCCL ("LibTorch 1.13.1, CUDA: no, NCCL: no").
std::string build_description();

// --device auto|cpu|cuda|cuda:N: where the subcommand's model runs
// (runtime::parse_device checks the value on each rank).
CLI::Option* add_device_option(CLI::App& app, std::string& device);

}  // namespace fid::cli

#define FID_REGISTER_COMMAND(Type, cmd_name)                                  \
  namespace {                                                                 \
  const ::fid::cli::CommandRegistrar registrar_##Type(                        \
      cmd_name, [] { return std::unique_ptr<::fid::cli::Command>(new Type); }); \
  }
