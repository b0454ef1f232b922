#include "common/error.h"

#include <cstring>

namespace fid::detail {

void fail(const char* file, int line, const char* cond, const std::string& msg) {
  // Keep only the path below the source root: the place is for developers, the
  // message is for the user and comes first.
  const char* base = std::strstr(file, "/src/");
  if (base == nullptr) base = std::strstr(file, "/dist/");
  if (base == nullptr) base = std::strstr(file, "/sharding/");
  std::string where = base ? std::string(base + 1) : std::string(file);
  std::string text = msg.empty() ? std::string("check failed") : msg;
  text += " [";
  if (cond != nullptr) text += std::string("check `") + cond + "` at ";
  text += where + ":" + std::to_string(line) + "]";
  throw Error(text);
}

}  // namespace fid::detail
