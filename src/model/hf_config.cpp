#include "model/hf_config.h"

#include "common/error.h"
#include "common/files.h"

namespace fid::model {

HfConfig::HfConfig(nlohmann::json json, std::string source)
    : json_(std::move(json)), source_(std::move(source)) {
  FID_CHECK(json_.is_object(), "config ", source_, " is not a JSON object");
}

HfConfig HfConfig::load(const std::string& path) {
  const std::string file =
      is_directory(path) ? join_path(path, "config.json") : path;
  FID_CHECK(path_exists(file), "model config ", file,
            " does not exist; a model directory needs a config.json");
  return HfConfig(read_json_file(file), file);
}

bool HfConfig::has(const std::string& key) const {
  return json_.contains(key) && !json_[key].is_null();
}

const nlohmann::json& HfConfig::field(const std::string& key) const {
  FID_CHECK(has(key), "config field '", key, "' is missing in ", source_);
  return json_[key];
}

int64_t HfConfig::get_int(const std::string& key) const {
  const auto& v = field(key);
  FID_CHECK(v.is_number_integer(), "config field '", key, "' in ", source_,
            " must be an integer, not ", v.dump());
  return v.get<int64_t>();
}

int64_t HfConfig::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double HfConfig::get_double(const std::string& key) const {
  const auto& v = field(key);
  FID_CHECK(v.is_number(), "config field '", key, "' in ", source_, " must be a number, not ",
            v.dump());
  return v.get<double>();
}

double HfConfig::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

bool HfConfig::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = json_[key];
  FID_CHECK(v.is_boolean(), "config field '", key, "' in ", source_,
            " must be true or false, not ", v.dump());
  return v.get<bool>();
}

std::string HfConfig::get_string(const std::string& key) const {
  const auto& v = field(key);
  FID_CHECK(v.is_string(), "config field '", key, "' in ", source_, " must be a string, not ",
            v.dump());
  return v.get<std::string>();
}

std::string HfConfig::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

}  // namespace fid::model
