// One-line messages to stderr, prefixed so they are told apart from the application's output:
// "ferry: ..." or, inside a rank, "ferry[3@node02]: ...". Never throws.
#pragma once

#include <string>
#include <string_view>

namespace ferry::core {

enum class Level { Debug, Info, Warn, Error };

/// Parses "debug" | "info" | "warn" | "error"; Info for anything else.
Level parse_level(std::string_view name) noexcept;
void set_log_level(Level level) noexcept;
/// Prefix for messages from this process, e.g. "ferry[3@node02]".
void set_log_prefix(std::string prefix) noexcept;

void log(Level level, std::string_view message) noexcept;
inline void log_info(std::string_view m) noexcept { log(Level::Info, m); }
inline void log_warn(std::string_view m) noexcept { log(Level::Warn, m); }
inline void log_error(std::string_view m) noexcept { log(Level::Error, m); }
inline void log_debug(std::string_view m) noexcept { log(Level::Debug, m); }

}  // namespace ferry::core
