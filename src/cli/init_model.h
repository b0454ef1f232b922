// `fid init-model`: per-architecture initialisers behind one subcommand. Each
// architecture (t5 here; bert in its own file) registers a ModelInitializer
// that adds its own flags and writes a randomly initialised model directory.
// Flags shared by all architectures live in InitModelCommon; architecture flags
// must use names of their own (the HF config names: d_model vs hidden_size).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace fid::cli {

struct InitModelCommon {
  std::string config_file;  // HF config.json to start from (flags override it)
  std::string tokenizer;    // tokenizer file or directory, copied into the model
  std::string output_dir;
  int64_t vocab_size = -1;  // -1: from the tokenizer or the config
  uint64_t seed = 0;
  bool overwrite = false;
};

class ModelInitializer {
 public:
  virtual ~ModelInitializer() = default;
  virtual void add_options(CLI::App& app) = 0;
  virtual void run(const InitModelCommon& common) = 0;
};

using ModelInitializerFactory = std::function<std::unique_ptr<ModelInitializer>()>;
std::map<std::string, ModelInitializerFactory>& model_initializers();

struct ModelInitializerRegistrar {
  ModelInitializerRegistrar(const std::string& arch, ModelInitializerFactory f) {
    model_initializers()[arch] = std::move(f);
  }
};

}  // namespace fid::cli

#define FID_REGISTER_MODEL_INITIALIZER(Type, arch)                                        \
  namespace {                                                                             \
  const ::fid::cli::ModelInitializerRegistrar init_registrar_##Type(                      \
      arch, [] { return std::unique_ptr<::fid::cli::ModelInitializer>(new Type); });      \
  }
