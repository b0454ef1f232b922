// What a FiD user types, read as FiD's argparse reads it: unambiguous
// prefixes of long options (`--total_step` for `--total_steps`, as FiD's own
// README writes), and the options FiD accepts on every script but that mean
// nothing here (`--local_rank`, `--main_port`, `--maxload`), accepted with a
// warning instead of refused.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace fid::cli {

// argv[1..] with each long option that is an unambiguous prefix of one of
// the chosen subcommand's options replaced by that option's name
// (`--total_step=5` -> `--total_steps=5`). Throws CLI::ParseError (exit 2)
// naming the candidates when a prefix fits several options.
std::vector<std::string> expand_option_prefixes(CLI::App& app, int argc, char** argv);

// Adds FiD's accepted-but-ignored options to `sub` (those it lacks).
void add_ignored_seed_options(CLI::App& sub);
// Warns once for each of them the command line gave.
void warn_ignored_seed_options(const CLI::App& sub);

}  // namespace fid::cli
