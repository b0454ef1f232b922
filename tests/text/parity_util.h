// Reading the reference fixtures for the parity tests.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fid::testing {

nlohmann::json load_fixture(const std::string& relative_path);

template <typename T>
std::vector<T> as_vector(const nlohmann::json& j) {
  return j.get<std::vector<T>>();
}

// Flattens nested arrays of integers in row-major order.
std::vector<int64_t> flatten_ints(const nlohmann::json& j);

}  // namespace fid::testing
