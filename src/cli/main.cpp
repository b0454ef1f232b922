// `fid`: one binary, one subcommand per seed script. Errors from any
// subcommand end up here: logged with the rank, then the whole MPI job is
// aborted so that no peer waits forever in a collective.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <exception>
#include <filesystem>

#include "cli/command.h"
#include "cli/seed_compat.h"
#include "common/error.h"
#include "common/log.h"
#include "common/stop_request.h"
#include "common/system.h"
#include "dist/agreement.h"
#include "dist/world.h"
#include "model/cpu_allocator.h"

namespace {

// FID_DIST_BACKEND=nccl puts CUDA tensor collectives (gradient all-reduce)
// on NCCL; mpi (the default) keeps them on MPI. An environment variable so
// that one launch line (fid-mpirun, the batch scripts) sets it for every
// subcommand and every rank.
bool nccl_requested() {
  const std::string backend = fid::env_or("FID_DIST_BACKEND", "mpi");
  FID_CHECK(backend == "mpi" || backend == "nccl", "FID_DIST_BACKEND must be 'mpi' or 'nccl', got '",
            backend, "'");
  return backend == "nccl";
}

// The options plus the size of each file they name: ranks on nodes without
// a shared file system may see another file at the same path.
std::map<std::string, std::string> with_input_sizes(const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> out = given;
  for (const auto& [flag, value] : given) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(value, ec)) continue;
    const auto bytes = std::filesystem::file_size(value, ec);
    if (!ec) out[flag + " (bytes of " + value + ")"] = std::to_string(bytes);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fid;
  CLI::App app{"FiD-MPI: Fusion-in-Decoder reader, reader-to-retriever distillation and "
               "distributed FAISS/HDF5 indexing under MPI"};
  app.set_version_flag("--version", std::string("fid ") + FID_VERSION + "\n" + cli::build_description());
  // At most one subcommand; none is reported below, so that an unknown word
  // gets CLI11's "not expected: <word>" rather than a generic message.
  app.require_subcommand(0, 1);

  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<CLI::App*, std::unique_ptr<cli::Command>>> commands;
  for (auto& [name, factory] : registry) {
    auto cmd = factory();
    CLI::App* sub = app.add_subcommand(name, cmd->description());
    sub->add_option("--threads", cmd->world.threads,
                    "intra-op threads per rank (default: cores per node / ranks per node)");
    cmd->add_options(*sub);
    cli::add_ignored_seed_options(*sub);
    commands.emplace_back(sub, std::move(cmd));
  }

  try {
    // FiD's argparse takes unambiguous prefixes of option names.
    std::vector<std::string> args = cli::expand_option_prefixes(app, argc, argv);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (app.get_subcommands().empty()) {
    std::fprintf(stderr, "%s\nerror: a subcommand is required (see the list above)\n",
                 app.help().c_str());
    return 2;
  }
  for (auto& [sub, cmd] : commands) {
    if (!sub->parsed()) continue;
    std::unique_ptr<dist::Communicator> comm;
    try {
      dist::WorldOptions world = cmd->world;
      // launch/fid-mpirun exports FID_THREADS; --threads wins over it.
      if (world.threads <= 0) world.threads = env_int_or("FID_THREADS", 0);
      world.nccl = world.nccl || nccl_requested();
      comm = cmd->distributed() ? dist::make_world(world) : dist::make_local_communicator();
      cmd->given = cli::given_options(*sub);
      if (comm->rank() == 0) cli::warn_ignored_seed_options(*sub);
      dist::check_ranks_agree(*comm, "command-line options or inputs", with_input_sizes(cmd->given));
      if (!cmd->distributed()) dist::configure_threads(dist::threads_per_rank(1, world.threads));
      warn_if_reference_blas();
      // Freed large tensor blocks are reused instead of being mapped afresh
      // (page faults cost a FiD training step 1-2 s of system time).
      model::install_caching_cpu_allocator();
      cmd->run(*comm);
    } catch (const Preempted& e) {
      // Every rank stopped at the same step with the state saved: no abort.
      // A warning, so that each rank says why it stopped.
      log::warn(cmd->name(), ": ", e.what());
      comm.reset();
      dist::finalize_world();
      return kPreemptedExit;
    } catch (const std::exception& e) {
      log::error(cmd->name(), ": ", e.what());
      // A failed rank takes the job down: peers may be waiting in a collective.
      if (comm && comm->size() > 1) comm->abort(1);
      dist::finalize_world();
      return 1;
    }
    comm.reset();
    dist::finalize_world();
    return 0;
  }
  return 0;
}
