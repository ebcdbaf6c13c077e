#include "core/environment.h"

#include <cstdlib>
#include <cstring>
#include <strings.h>

extern char** environ;

namespace ferry::core {

std::optional<std::string> getenv(const char* name) noexcept {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  try {
    return std::string(v);
  } catch (...) {
    return std::nullopt;
  }
}

bool enabled() noexcept {
  const char* v = std::getenv("FERRY_ENABLE");
  if (v == nullptr) return false;
  return std::strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
         strcasecmp(v, "on") == 0;
}

std::map<std::string, std::string> ferry_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "FERRY_", 6) != 0) continue;
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    out.emplace(std::string(*e, static_cast<std::size_t>(eq - *e)), std::string(eq + 1));
  }
  return out;
}

}  // namespace ferry::core
