#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace ferry::core {

namespace {
std::atomic<Level> g_level{Level::Info};
std::mutex g_mutex;
std::string& prefix() {
  static std::string p = "ferry";
  return p;
}
}  // namespace

Level parse_level(std::string_view name) noexcept {
  if (name == "debug") return Level::Debug;
  if (name == "warn") return Level::Warn;
  if (name == "error") return Level::Error;
  return Level::Info;
}

void set_log_level(Level level) noexcept { g_level.store(level); }

void set_log_prefix(std::string p) noexcept {
  try {
    std::lock_guard lock(g_mutex);
    prefix() = std::move(p);
  } catch (...) {
  }
}

void log(Level level, std::string_view message) noexcept {
  if (level < g_level.load()) return;
  try {
    std::string line;
    {
      std::lock_guard lock(g_mutex);
      line = prefix();
    }
    line += ": ";
    if (level == Level::Warn) line += "warning: ";
    if (level == Level::Error) line += "error: ";
    line.append(message);
    line += '\n';
    // One write per line so lines of different ranks do not interleave.
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  } catch (...) {
  }
}

}  // namespace ferry::core
