// The one place ferry reads the process environment. Following FERRY_ENABLE from here leads to
// every code path ferry adds to an application.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace ferry::core {

/// Value of an environment variable, if set.
std::optional<std::string> getenv(const char* name) noexcept;

/// True when FERRY_ENABLE is "1" (or "true"/"yes"/"on"): the only switch that turns ferry on.
bool enabled() noexcept;

/// Every FERRY_* variable currently set, for the config loader.
std::map<std::string, std::string> ferry_environment();

}  // namespace ferry::core
