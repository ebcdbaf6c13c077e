// `ferry`: the command users type. Each subcommand lives in a cmd_<name>.cc of its own.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: ferry <command> [options]\n"
    "\n"
    "Measure the ranks of an MPI job and move them between nodes while it runs.\n"
    "\n"
    "commands:\n"
    "  run         run an MPI program under ferry (supervisor, collector, live status)\n"
    "  jobs        list the running jobs\n"
    "  status      live per-rank and per-node table of a running job\n"
    "  migrate     move ranks of a running job to other nodes (checkpoint, transfer, restart)\n"
    "  checkpoint  checkpoint a running job and let it go on\n"
    "  restart     start a job again from a committed checkpoint\n"
    "  images      list checkpoint images and verify their checksums\n"
    "  components  list the pluggable components (crs, filem) and their options\n"
    "  config      print the effective configuration and where each value came from\n"
    "  version     print ferry's version\n"
    "  help        print this help\n"
    "\n"
    "Monitoring alone needs no command: run the application with FERRY_ENABLE=1 and libferry.so\n"
    "preloaded (direct mode; rank 0 prints the per-rank table at the end), e.g.\n"
    "  FERRY_ENABLE=1 mpirun -x FERRY_ENABLE -x LD_PRELOAD=/path/to/libferry.so -np 4 ./app\n"
    "\n"
    "'ferry <command> --help' describes a command.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = args.front();
  args.erase(args.begin());
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("ferry %s\n", FERRY_VERSION_STRING);
    return 0;
  }
  if (cmd == "config") return ferry::cli::cmd_config(args);
  if (cmd == "run") return ferry::cli::cmd_run(args);
  if (cmd == "jobs") return ferry::cli::cmd_jobs(args);
  if (cmd == "status") return ferry::cli::cmd_status(args);
  if (cmd == "migrate") return ferry::cli::cmd_migrate(args);
  if (cmd == "checkpoint") return ferry::cli::cmd_checkpoint(args);
  if (cmd == "restart") return ferry::cli::cmd_restart(args);
  if (cmd == "images") return ferry::cli::cmd_images(args);
  if (cmd == "components") return ferry::cli::cmd_components(args);
  std::fprintf(stderr, "ferry: unknown command \"%s\" (commands: run, jobs, status, migrate, checkpoint, restart, images, components, config, version, help)\n", cmd.c_str());
  return 2;
}
