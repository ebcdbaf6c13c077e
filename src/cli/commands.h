// One function per `ferry` subcommand: arguments after the command name in, exit status out.
#pragma once

#include <string>
#include <vector>

namespace ferry::cli {

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
