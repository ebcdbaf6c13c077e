// One function per `ferry` subcommand: arguments after the command name in, exit status out.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace ferry::cli {

/// Appends the non-empty items of a comma-separated list ("a,b,,c" → a b c) to `out`; false
/// when there were none.
inline bool split_list(const std::string& text, std::vector<std::string>& out) {
  const std::size_t before = out.size();
  for (std::size_t b = 0; b <= text.size();) {
    const std::size_t e = std::min(text.find(',', b), text.size());
    if (e > b) out.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  return out.size() > before;
}

int cmd_config(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_jobs(const std::vector<std::string>& args);
int cmd_status(const std::vector<std::string>& args);
int cmd_images(const std::vector<std::string>& args);
int cmd_migrate(const std::vector<std::string>& args);
int cmd_checkpoint(const std::vector<std::string>& args);
int cmd_restart(const std::vector<std::string>& args);
int cmd_components(const std::vector<std::string>& args);

}  // namespace ferry::cli
