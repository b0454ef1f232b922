#include "cli/seed_compat.h"

#include <map>
#include <set>

#include "common/log.h"

namespace fid::cli {
namespace {

// FiD's options.py gives every script these; torch.distributed sets
// --local_rank per process (MPI gives ranks here).
const char* const kIgnored[] = {"local_rank", "main_port", "maxload"};

// Each subcommand's ignored options: name -> value given.
std::map<const CLI::App*, std::map<std::string, std::string>>& ignored_values() {
  static std::map<const CLI::App*, std::map<std::string, std::string>> values;
  return values;
}

}  // namespace

std::vector<std::string> expand_option_prefixes(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CLI::App* sub = nullptr;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    if (!args[i].empty() && args[i][0] != '-') {
      for (CLI::App* s : app.get_subcommands([&](CLI::App* a) { return a->get_name() == args[i]; })) sub = s;
      break;
    }
  }
  if (sub == nullptr) return args;
  // Every long name, with the option it belongs to.
  std::map<std::string, const CLI::Option*> names;
  for (const CLI::Option* opt : sub->get_options()) {
    for (const std::string& n : opt->get_lnames()) names["--" + n] = opt;
  }
  for (++i; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) continue;
    const std::string key = a.substr(0, a.find('='));
    if (names.count(key)) continue;
    std::set<const CLI::Option*> fits;
    std::string listed;
    for (auto it = names.lower_bound(key); it != names.end() && it->first.compare(0, key.size(), key) == 0; ++it) {
      if (fits.insert(it->second).second) listed += (listed.empty() ? "" : ", ") + it->second->get_name();
    }
    if (fits.size() == 1) {
      args[i] = (*fits.begin())->get_name() + a.substr(key.size());
    } else if (fits.size() > 1) {
      throw CLI::ArgumentMismatch("option '" + key + "' is ambiguous for " + sub->get_name() +
                                  ": it could be " + listed);
    }
  }
  return args;
}

void add_ignored_seed_options(CLI::App& sub) {
  for (const char* name : kIgnored) {
    const std::string flag = std::string("--") + name;
    if (sub.get_option_no_throw(flag) != nullptr) continue;
    sub.add_option(flag, ignored_values()[&sub][name],
                   "accepted as FiD accepts it; ignored (MPI gives the ranks)");
  }
}

void warn_ignored_seed_options(const CLI::App& sub) {
  auto it = ignored_values().find(&sub);
  if (it == ignored_values().end()) return;
  for (const auto& [name, v] : it->second) {
    const CLI::Option* opt = sub.get_option_no_throw("--" + name);
    if (opt != nullptr && opt->count() > 0) {
      log::warn("--", name, " ", v, ": accepted for compatibility with FiD's scripts and ignored");
    }
  }
}

}  // namespace fid::cli
