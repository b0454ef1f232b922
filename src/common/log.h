// Rank-aware logging: info on rank 0 only, warnings and errors on every rank
// with a "[rank r]" prefix so that a multi-rank job's log stays readable.
#pragma once
#include <string>

#include "common/error.h"

namespace fid::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Set once at start-up by the process that knows its rank (dist::init).
void set_rank(int rank, int world_size);
void set_level(Level level);
int rank();
void write(Level level, const std::string& message);

template <typename... Args>
void info(Args&&... args) { write(Level::kInfo, detail::concat(std::forward<Args>(args)...)); }
template <typename... Args>
void warn(Args&&... args) { write(Level::kWarn, detail::concat(std::forward<Args>(args)...)); }
template <typename... Args>
void error(Args&&... args) { write(Level::kError, detail::concat(std::forward<Args>(args)...)); }
template <typename... Args>
void debug(Args&&... args) { write(Level::kDebug, detail::concat(std::forward<Args>(args)...)); }

}  // namespace fid::log
