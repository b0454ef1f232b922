#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace fid::log {
namespace {
int g_rank = 0;
int g_world = 1;
Level g_level = Level::kInfo;
std::mutex g_mutex;

Level level_from_env() {
  const char* v = std::getenv("FID_LOG_LEVEL");
  if (v == nullptr) return Level::kInfo;
  std::string s(v);
  if (s == "debug") return Level::kDebug;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  return Level::kInfo;
}
}  // namespace

void set_rank(int rank, int world_size) {
  g_rank = rank;
  g_world = world_size;
  g_level = level_from_env();
}
void set_level(Level level) { g_level = level; }
int rank() { return g_rank; }

void write(Level level, const std::string& message) {
  if (level < g_level) return;
  // Info and debug come from rank 0 only: W identical lines help nobody.
  if (level < Level::kWarn && g_rank != 0) return;
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  const char* tag = level == Level::kError ? "error: " : level == Level::kWarn ? "warning: " : "";
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world > 1 || level >= Level::kWarn) {
    std::fprintf(stderr, "[%s] [rank %d] %s%s\n", stamp, g_rank, tag, message.c_str());
  } else {
    std::fprintf(stderr, "[%s] %s%s\n", stamp, tag, message.c_str());
  }
  std::fflush(stderr);
}

}  // namespace fid::log
