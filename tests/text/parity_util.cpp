#include "parity_util.h"

#include "common/files.h"
#include "support/test_util.h"

namespace fid::testing {

nlohmann::json load_fixture(const std::string& relative_path) {
  return read_json_file(join_path(fixtures_dir(), relative_path));
}

namespace {
void flatten_into(const nlohmann::json& j, std::vector<int64_t>& out) {
  if (j.is_array()) {
    for (const auto& x : j) flatten_into(x, out);
  } else {
    out.push_back(j.get<int64_t>());
  }
}
}  // namespace

std::vector<int64_t> flatten_ints(const nlohmann::json& j) {
  std::vector<int64_t> out;
  flatten_into(j, out);
  return out;
}

}  // namespace fid::testing
