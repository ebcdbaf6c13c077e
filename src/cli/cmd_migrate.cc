// `ferry migrate`, `ferry checkpoint`, `ferry restart` and `ferry components`: what an operator
// asks of a job's checkpoints. migrate and checkpoint talk to the job's supervisor over its
// control socket and print its stages as they happen, the way ompi-migrate did:
//   [host:pid] [ stage s / total s] Stage - detail
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "core/config.h"
#include "core/registry.h"
#include "migrate/manifest.h"
#include "supervisor/control.h"
#include "supervisor/registry.h"
#include "supervisor/supervisor.h"

namespace ferry::cli {

namespace {

constexpr const char* kMigrateHelp =
    "usage: ferry migrate [-v] (-x|--off NODES | -r|--ranks LIST) [-t|--onto NODES] JOB\n"
    "\n"
    "Moves ranks of a running job to other nodes: every rank checkpoints at its next safe point,\n"
    "the moving ranks' images go to their new nodes, the job starts again there from that\n"
    "checkpoint, and goes on. JOB is the job id (`ferry jobs`) or the PID of its `ferry run`.\n"
    "\n"
    "  -x, --off NODES    move every rank off these nodes (comma-separated)\n"
    "  -r, --ranks LIST   move these ranks (comma-separated numbers)\n"
    "  -t, --onto NODES   only onto these nodes (default: the job's other nodes, most free\n"
    "                     slots first)\n"
    "  -v, --verbose      print every stage as it happens, with [stage / total] seconds\n"
    "\n"
    "Exit status: 0 migrated, 1 refused or failed (the job goes on where it was), 2 usage.\n";

constexpr const char* kCheckpointHelp =
    "usage: ferry checkpoint [-v] JOB\n"
    "\n"
    "Checkpoints a running job at its ranks' next safe point and lets it go on. The committed\n"
    "epoch (its manifest under migrate.dir) is what `ferry restart` starts from.\n"
    "\n"
    "  -v, --verbose      print every stage as it happens\n"
    "\n"
    "Exit status: 0 committed, 1 refused or failed (the previous checkpoint stands), 2 usage.\n";

constexpr const char* kRestartHelp =
    "usage: ferry restart [--nodes A,B,C | --hostfile F] [--map block|cyclic|RANKFILE]\n"
    "                     [--config F] [--job NAME] CKPT\n"
    "\n"
    "Starts a job again from a committed checkpoint, for example after the whole job died, and\n"
    "supervises it like `ferry run`. CKPT is an epoch manifest (<migrate.dir>/JOB/epoch-N.json)\n"
    "or a job's checkpoint directory (its newest epoch). Without --nodes/--hostfile each rank\n"
    "starts where the checkpoint left it; with them the ranks are placed anew (their images must\n"
    "be readable there: the same machine, or migrate.shared_dir).\n";

std::optional<supervisor::JobInfo> find(const char* command, const std::string& target) {
  std::vector<std::string> errors;
  const core::Config config = core::Config::load({}, errors);
  for (const auto& e : errors) std::fprintf(stderr, "ferry %s: %s\n", command, e.c_str());
  if (!errors.empty()) return std::nullopt;
  std::string error;
  auto job = supervisor::find_job(supervisor::run_dir(config), target, error);
  if (!job) std::fprintf(stderr, "ferry %s: %s\n", command, error.c_str());
  return job;
}

void print_event(const std::string& host, const nlohmann::json& e) {
  std::printf("[%s] [%7.2f / %7.2f] %s - %s\n", host.c_str(), e.value("stage_seconds", 0.0), e.value("total_seconds", 0.0),
              e.value("stage", std::string("?")).c_str(), e.value("detail", std::string()).c_str());
  std::fflush(stdout);
}

// Sends the request, then follows the operation to its end.
int follow(const char* command, const supervisor::JobInfo& job, const nlohmann::json& request, bool verbose) {
  nlohmann::json reply;
  std::string error;
  if (!supervisor::control_request(job.control, request, reply, error)) {
    std::fprintf(stderr, "ferry %s: %s\n", command, error.c_str());
    return 1;
  }
  if (!reply.value("ok", false)) {
    std::fprintf(stderr, "ferry %s: refused: %s\n", command, reply.value("error", std::string("no reason given")).c_str());
    return 1;
  }
  const auto id = reply["id"].get<std::uint64_t>();
  std::size_t shown = 0;
  int lost = 0;
  for (;;) {
    nlohmann::json p;
    if (!supervisor::control_request(job.control, {{"cmd", "migration"}, {"id", id}}, p, error)) {
      // The supervisor is busy relaunching or gone; a few misses are normal, many are not.
      if (++lost > 50) {
        std::fprintf(stderr, "ferry %s: lost contact with job %s: %s\n", command, job.id.c_str(), error.c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    lost = 0;
    const auto& events = p["events"];
    const std::string host = p.value("host", std::string("?"));
    if (verbose)
      for (; shown < events.size(); ++shown) print_event(host, events[shown]);
    if (p.value("over", false)) {
      if (!verbose && !events.empty()) print_event(host, events.back());
      return p.value("failed", false) ? 1 : 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int cmd_migrate(const std::vector<std::string>& args) {
  nlohmann::json request = {{"cmd", "migrate"}};
  bool verbose = false;
  std::string target;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::vector<std::string>& out) {
      if (i + 1 >= args.size() || !split_list(args[i + 1], out)) {
        std::fprintf(stderr, "ferry migrate: %s needs a comma-separated list\n", a.c_str());
        return false;
      }
      ++i;
      return true;
    };
    std::vector<std::string> list;
    if (a == "--help" || a == "-h") {
      std::fputs(kMigrateHelp, stdout);
      return 0;
    } else if (a == "-v" || a == "--verbose") {
      verbose = true;
    } else if (a == "-x" || a == "--off") {
      if (!value(list)) return 2;
      for (auto& n : list) request["off"].push_back(n);
    } else if (a == "-t" || a == "--onto") {
      if (!value(list)) return 2;
      for (auto& n : list) request["onto"].push_back(n);
    } else if (a == "-r" || a == "--ranks") {
      if (!value(list)) return 2;
      for (auto& r : list) {
        char* end = nullptr;
        const long n = std::strtol(r.c_str(), &end, 10);
        if (*end != '\0' || n < 0) {
          std::fprintf(stderr, "ferry migrate: --ranks: \"%s\" is not a rank number\n", r.c_str());
          return 2;
        }
        request["ranks"].push_back(n);
      }
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ferry migrate: unknown option \"%s\"\n\n%s", a.c_str(), kMigrateHelp);
      return 2;
    } else if (target.empty()) {
      target = a;
    } else {
      std::fprintf(stderr, "ferry migrate: more than one JOB (\"%s\", \"%s\")\n", target.c_str(), a.c_str());
      return 2;
    }
  }
  if (target.empty() || (!request.contains("off") && !request.contains("ranks"))) {
    std::fprintf(stderr, "ferry migrate: %s\n\n%s", target.empty() ? "no JOB given" : "give -x NODES or -r RANKS",
                 kMigrateHelp);
    return 2;
  }
  if (request.contains("off") && request.contains("ranks")) {
    std::fputs("ferry migrate: give either -x/--off or -r/--ranks, not both\n", stderr);
    return 2;
  }
  const auto job = find("migrate", target);
  if (!job) return 1;
  return follow("migrate", *job, request, verbose);
}

int cmd_checkpoint(const std::vector<std::string>& args) {
  bool verbose = false;
  std::string target;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kCheckpointHelp, stdout);
      return 0;
    }
    if (a == "-v" || a == "--verbose") {
      verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ferry checkpoint: unknown option \"%s\"\n\n%s", a.c_str(), kCheckpointHelp);
      return 2;
    } else if (target.empty()) {
      target = a;
    } else {
      std::fprintf(stderr, "ferry checkpoint: more than one JOB (\"%s\", \"%s\")\n", target.c_str(), a.c_str());
      return 2;
    }
  }
  if (target.empty()) {
    std::fprintf(stderr, "ferry checkpoint: no JOB given\n\n%s", kCheckpointHelp);
    return 2;
  }
  const auto job = find("checkpoint", target);
  if (!job) return 1;
  return follow("checkpoint", *job, {{"cmd", "checkpoint"}}, verbose);
}

int cmd_restart(const std::vector<std::string>& args) {
  supervisor::RunOptions o;
  std::string ckpt;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool takes_value = a == "--nodes" || a == "-H" || a == "--hostfile" || a == "--map" || a == "--config" || a == "--job";
    if (a == "--help" || a == "-h") {
      std::fputs(kRestartHelp, stdout);
      return 0;
    }
    if (takes_value && i + 1 >= args.size()) {
      std::fprintf(stderr, "ferry restart: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--nodes" || a == "-H") split_list(args[++i], o.nodes);
    else if (a == "--hostfile") o.hostfile = args[++i];
    else if (a == "--map") o.map = args[++i];
    else if (a == "--config") o.config = args[++i];
    else if (a == "--job") o.job = args[++i];
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ferry restart: unknown option \"%s\"\n\n%s", a.c_str(), kRestartHelp);
      return 2;
    } else if (ckpt.empty()) {
      ckpt = a;
    } else {
      std::fprintf(stderr, "ferry restart: more than one CKPT (\"%s\", \"%s\")\n", ckpt.c_str(), a.c_str());
      return 2;
    }
  }
  if (ckpt.empty()) {
    std::fprintf(stderr, "ferry restart: no CKPT given\n\n%s", kRestartHelp);
    return 2;
  }
  std::string error;
  const auto manifest = migrate::resolve_checkpoint(ckpt, error);
  if (!manifest) {
    std::fprintf(stderr, "ferry restart: %s\n", error.c_str());
    return 2;
  }
  o.restart = *manifest;
  return supervisor::run_job(o);
}

int cmd_components(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::puts("usage: ferry components\n\nLists the pluggable components by kind, with what each does and the\n"
              "configuration keys it reads. migrate.crs and migrate.filem choose among them.");
    return 0;
  }
  if (!args.empty()) {
    std::fprintf(stderr, "ferry components: unexpected argument \"%s\"\n", args[0].c_str());
    return 2;
  }
  std::string_view kind;
  for (const auto& c : core::components()) {
    if (c.kind != kind) {
      kind = c.kind;
      std::printf("%s%.*s:\n", kind == core::components().front().kind ? "" : "\n", static_cast<int>(kind.size()), kind.data());
    }
    std::string options;
    for (auto o : c.options) options += (options.empty() ? "" : ", ") + std::string(o);
    std::printf("  %-8.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(), static_cast<int>(c.description.size()),
                c.description.data());
    if (!options.empty()) std::printf("  %-8s options: %s\n", "", options.c_str());
  }
  return 0;
}

}  // namespace ferry::cli
