#include "cli/command.h"

#include <algorithm>
#include <set>

#include <torch/csrc/api/include/torch/version.h>

#include "model/hf_hub.h"
#include "runtime/placement.h"

namespace fid::cli {

std::vector<std::pair<std::string, CommandFactory>>& command_registry() {
  static std::vector<std::pair<std::string, CommandFactory>> registry;
  return registry;
}

std::string flag(const std::string& seed_name) {
  std::string kebab = seed_name;
  std::replace(kebab.begin(), kebab.end(), '_', '-');
  if (kebab == seed_name) return "--" + seed_name;
  return "--" + seed_name + ",--" + kebab;
}

std::map<std::string, std::string> given_options(const CLI::App& sub) {
  std::map<std::string, std::string> out;
  for (const CLI::Option* opt : sub.get_options()) {
    // Per process by nature: threads (per node), FiD's torch.distributed ones.
    static const std::set<std::string> per_process = {"--threads", "--help", "--local_rank", "--main_port"};
    if (opt->count() == 0 || per_process.count(opt->get_name())) continue;
    std::string value;
    for (const std::string& r : opt->results()) value += (value.empty() ? "" : ",") + r;
    out[opt->get_name()] = value;
  }
  return out;
}

CLI::Option* add_model_path(CLI::App& app, std::string& path, const std::string& help) {
  return app.add_option(flag("model_path"), path, help + " (a directory, or a Hugging Face model name "
                                                          "in the local cache: t5-base, org/name)")
      ->transform(CLI::Validator(
          [](std::string& value) {
            try {
              value = model::resolve_model_dir(value);
            } catch (const std::exception& e) {
              return std::string(e.what());
            }
            return std::string();
          },
          "DIR|NAME"));
}

CLI::Option* add_match_option(CLI::App& app, std::string& match) {
  return app
      .add_option(flag("match"), match,
                  "answer in passage: string (DPR's token match) or regex (each answer a regular "
                  "expression, DPR's --match regex for CuratedTREC)")
      ->check(CLI::IsMember({"string", "regex"}))
      ->capture_default_str();
}

std::string build_description() {
  std::string s = std::string("LibTorch ") + TORCH_VERSION + ", CUDA: " + (runtime::build_has_cuda() ? "yes" : "no");
#ifdef FID_HAVE_NCCL
  return s + ", NCCL: yes";
#else
  return s + ", NCCL: no";
#endif
}

CLI::Option* add_device_option(CLI::App& app, std::string& device) {
  return app
      .add_option(flag("device"), device,
                  "auto (GPU local_rank % GPUs when CUDA is available, else the CPU), cpu, cuda "
                  "(GPU local_rank % GPUs) or cuda:N")
      ->capture_default_str();
}

}  // namespace fid::cli
