// `ferry jobs` and `ferry status`: read the job registry and ask a job's supervisor.
#include <cstdio>

#include "cli/commands.h"
#include "core/config.h"
#include "supervisor/control.h"
#include "supervisor/registry.h"
#include "supervisor/status.h"

namespace ferry::cli {

namespace {

bool load_config(core::Config& config, const char* command) {
  std::vector<std::string> errors;
  config = core::Config::load({}, errors);
  for (const auto& e : errors) std::fprintf(stderr, "ferry %s: %s\n", command, e.c_str());
  return errors.empty();
}

}  // namespace

int cmd_jobs(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::puts("usage: ferry jobs\n\nLists the jobs `ferry run` is running for this user (run.dir).");
    return 0;
  }
  if (!args.empty()) {
    std::fprintf(stderr, "ferry jobs: unexpected argument \"%s\" (usage: ferry jobs)\n", args[0].c_str());
    return 2;
  }
  core::Config config = core::Config::defaults();
  if (!load_config(config, "jobs")) return 2;
  const auto jobs = supervisor::list_jobs(supervisor::run_dir(config));
  if (jobs.empty()) {
    std::puts("no running jobs");
    return 0;
  }
  std::printf("%-24s %8s %6s %-9s %-20s %s\n", "job", "pid", "ranks", "state", "started", "nodes");
  for (const auto& j : jobs) {
    std::string nodes;
    for (const auto& n : j.nodes) nodes += (nodes.empty() ? "" : ",") + n;
    std::printf("%-24s %8d %6zu %-9s %-20s %s\n", j.id.c_str(), j.pid, j.placement.size(), j.state.c_str(),
                j.started.c_str(), nodes.c_str());
  }
  return 0;
}

int cmd_status(const std::vector<std::string>& args) {
  constexpr const char* kUsage =
      "usage: ferry status [--json] [--window SECONDS] JOB\n\n"
      "Live per-rank and per-node table of a running job: node, core, the shares of time spent\n"
      "computing and in MPI, the share of CPU received, ranks per node, and the job imbalance.\n"
      "JOB is the job id (`ferry jobs`) or the PID of its `ferry run`.\n";
  bool json = false;
  std::string target;
  nlohmann::json request = {{"cmd", "status"}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--window" && i + 1 < args.size()) {
      try {
        request["window"] = std::stod(args[++i]);
      } catch (...) {
        std::fprintf(stderr, "ferry status: --window needs a number of seconds, got \"%s\"\n", args[i].c_str());
        return 2;
      }
    } else if (target.empty() && !args[i].empty() && args[i][0] != '-') {
      target = args[i];
    } else {
      std::fprintf(stderr, "ferry status: unexpected argument \"%s\"\n%s", args[i].c_str(), kUsage);
      return 2;
    }
  }
  if (target.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  core::Config config = core::Config::defaults();
  if (!load_config(config, "status")) return 2;
  std::string error;
  const auto job = supervisor::find_job(supervisor::run_dir(config), target, error);
  if (!job) {
    std::fprintf(stderr, "ferry status: %s\n", error.c_str());
    return 1;
  }
  nlohmann::json reply;
  if (!supervisor::control_request(job->control, request, reply, error)) {
    std::fprintf(stderr, "ferry status: %s: %s\n", job->id.c_str(), error.c_str());
    return 1;
  }
  if (json) std::puts(reply.dump(2).c_str());
  else std::fputs(supervisor::format_status(reply).c_str(), stdout);
  return 0;
}

}  // namespace ferry::cli
