// Reading Hugging Face config.json files: typed getters whose errors name the
// field and the file, with defaults for fields that older versions omit.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace fid::model {

class HfConfig {
 public:
  HfConfig() = default;
  HfConfig(nlohmann::json json, std::string source);
  // Reads dir/config.json (or a file path ending in .json).
  static HfConfig load(const std::string& path);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  const nlohmann::json& json() const { return json_; }
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& field(const std::string& key) const;
  nlohmann::json json_ = nlohmann::json::object();
  std::string source_;
};

}  // namespace fid::model
