#include "model/weight_store.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <map>
#include <sstream>

#include "common/error.h"

namespace fid::model {
namespace {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

}  // namespace

TensorMap module_weights(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.key()] = b.value().detach();
  return out;
}

LoadReport load_weights(torch::nn::Module& module, const TensorMap& tensors,
                        const std::string& source, const KeyMap& key_map,
                        const AllowMissing& allow_missing) {
  TensorMap targets = module_weights(module);
  LoadReport report;
  std::vector<std::string> unexpected, mis_shaped, duplicate;
  std::map<std::string, std::string> assigned;  // module name -> checkpoint key
  // First pass: resolve names and check everything, so that one error lists all.
  std::vector<std::pair<at::Tensor, const at::Tensor*>> copies;
  for (const auto& [key, value] : tensors) {
    const std::string name = key_map ? key_map(key) : key;
    if (name.empty()) {
      report.dropped.push_back(key);
      continue;
    }
    auto it = targets.find(name);
    if (it == targets.end()) {
      unexpected.push_back(key == name ? key : key + " (as " + name + ")");
      continue;
    }
    auto prev = assigned.find(name);
    if (prev != assigned.end()) {
      duplicate.push_back(name + " (from " + prev->second + " and " + key + ")");
      continue;
    }
    assigned[name] = key;
    if (it->second.sizes() != value.sizes()) {
      mis_shaped.push_back(key + ": checkpoint " + shape_str(value.sizes()) + " vs model " +
                           shape_str(it->second.sizes()));
      continue;
    }
    copies.emplace_back(it->second, &value);
  }
  std::vector<std::string> missing;
  for (const auto& [name, t] : targets)
    if (!assigned.count(name) && !(allow_missing && allow_missing(name))) missing.push_back(name);

  if (!missing.empty() || !unexpected.empty() || !mis_shaped.empty() || !duplicate.empty()) {
    std::ostringstream os;
    os << "weights in " << source << " do not fit the model:";
    auto list = [&os](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << "\n  " << what << " (" << v.size() << "):";
      for (const auto& s : v) os << "\n    " << s;
    };
    list("missing from the checkpoint", missing);
    list("unexpected in the checkpoint", unexpected);
    list("wrong shape", mis_shaped);
    list("given twice", duplicate);
    os << "\n  Check that config.json matches the weights (sizes, feed_forward_proj, "
          "tie_word_embeddings).";
    FID_THROW(os.str());
  }
  at::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(*src);
  report.loaded = static_cast<int64_t>(copies.size());
  return report;
}

std::string unwrap_fid_key(const std::string& key) {
  static const std::string wrapped = "encoder.encoder.";
  if (key.compare(0, wrapped.size(), wrapped) != 0) return key;
  std::string rest = key.substr(wrapped.size());  // block.N.module.x or final_layer_norm...
  static const std::string block = "block.";
  if (rest.compare(0, block.size(), block) == 0) {
    const size_t dot = rest.find('.', block.size());
    static const std::string module = ".module.";
    if (dot != std::string::npos && rest.compare(dot, module.size(), module) == 0)
      rest = rest.substr(0, dot) + "." + rest.substr(dot + module.size());
  }
  return "encoder." + rest;
}

}  // namespace fid::model
