// `ferry run`: argument parsing; the supervisor itself is src/supervisor/supervisor.cc.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "supervisor/supervisor.h"

namespace ferry::cli {

namespace {
constexpr const char* kHelp =
    "usage: ferry run [-np N] [--nodes A,B,C | --hostfile F] [--map block|cyclic|RANKFILE]\n"
    "                 [--config F] [--job NAME] -- PROGRAM [ARGS...]\n"
    "\n"
    "Runs an MPI program under ferry: places the ranks, starts mpirun with libferry.so preloaded\n"
    "into the ranks, collects every rank's samples, serves `ferry status`, and exits with the\n"
    "job's exit status. SIGINT/SIGTERM are passed on to the job.\n"
    "\n"
    "  -np N              number of ranks (default: every slot of the nodes)\n"
    "  --nodes LIST       nodes, comma-separated, each NAME or NAME:SLOTS\n"
    "  --hostfile F       nodes and slots from an Open MPI hostfile\n"
    "                     (default: --nodes, else the Slurm allocation, else\n"
    "                     $OMPI_MCA_orte_default_hostfile, else this host)\n"
    "  --map POLICY       block (fill each node in turn, default), cyclic (round robin),\n"
    "                     or the path of a rankfile (\"rank N=HOST slot=S\")\n"
    "  --config F         ferry configuration file (TOML), also given to the ranks\n"
    "  --job NAME         job id shown by `ferry jobs` (default: PROGRAM-PID)\n";

bool need_value(const std::vector<std::string>& args, std::size_t i) {
  if (i + 1 < args.size()) return true;
  std::fprintf(stderr, "ferry run: %s needs a value\n", args[i].c_str());
  return false;
}
}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  supervisor::RunOptions o;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (a == "-np" || a == "-n" || a == "--np") {
      if (!need_value(args, i)) return 2;
      char* end = nullptr;
      const long n = std::strtol(args[++i].c_str(), &end, 10);
      if (*end != '\0' || n <= 0 || n > 1000000) {
        std::fprintf(stderr, "ferry run: -np needs a positive number, got \"%s\"\n", args[i].c_str());
        return 2;
      }
      o.ranks = static_cast<int>(n);
    } else if (a == "--nodes" || a == "-H") {
      if (!need_value(args, i)) return 2;
      split_list(args[++i], o.nodes);
    } else if (a == "--hostfile") {
      if (!need_value(args, i)) return 2;
      o.hostfile = args[++i];
    } else if (a == "--map") {
      if (!need_value(args, i)) return 2;
      o.map = args[++i];
    } else if (a == "--config") {
      if (!need_value(args, i)) return 2;
      o.config = args[++i];
    } else if (a == "--job") {
      if (!need_value(args, i)) return 2;
      o.job = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ferry run: unknown option \"%s\"\n\n%s", a.c_str(), kHelp);
      return 2;
    } else {
      break;  // the program, without "--"
    }
  }
  o.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return supervisor::run_job(o);
}

}  // namespace ferry::cli
