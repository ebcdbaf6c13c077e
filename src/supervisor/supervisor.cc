#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <mutex>
#include <thread>

#include "core/config.h"
#include "core/environment.h"
#include "core/log.h"
#include "monitor/collector.h"
#include "monitor/report.h"
#include "exporters/exposer.h"
#include "supervisor/control.h"
#include "migrate/manifest.h"
#include "supervisor/job_metrics.h"
#include "supervisor/orchestrator.h"
#include "supervisor/placement.h"
#include "supervisor/registry.h"
#include "supervisor/status.h"

extern char** environ;

namespace ferry::supervisor {

namespace fs = std::filesystem;

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "ferry run: %s\n", message.c_str());
  return 2;
}

bool valid_job_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return s[0] != '.';
}

// libferry.so beside the ferry binary (build tree) or in ../lib (install); FERRY_LIBRARY wins.
std::string find_library(std::string& error) {
  if (auto lib = core::getenv("FERRY_LIBRARY")) {
    if (fs::exists(*lib)) return *lib;
    error = "FERRY_LIBRARY=" + *lib + " does not exist";
    return "";
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (const fs::path& p : {exe.parent_path() / "libferry.so", exe.parent_path().parent_path() / "lib" / "libferry.so"})
    if (fs::exists(p, ec)) return fs::canonical(p, ec).string();
  error = "cannot find libferry.so next to " + exe.string() + " or in ../lib; set FERRY_LIBRARY=/path/to/libferry.so";
  return "";
}

// Nodes from --nodes, --hostfile, a Slurm allocation, mpirun's default hostfile, or this host.
bool resolve_nodes(const RunOptions& o, int ranks, std::vector<NodeSlots>& nodes, std::string& error) {
  if (!o.nodes.empty() && !o.hostfile.empty()) {
    error = "give either --nodes or --hostfile, not both";
    return false;
  }
  auto read_hostfile = [&](const std::string& path) {
    std::ifstream in(path);
    if (!in) {
      error = path + ": cannot read: " + std::strerror(errno);
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (!parse_hostfile(ss.str(), nodes, error)) {
      error = path + ": " + error;
      return false;
    }
    return true;
  };
  if (!o.nodes.empty()) {
    for (const auto& item : o.nodes) {
      NodeSlots n;
      const auto colon = item.find(':');
      n.name = item.substr(0, colon);
      n.slots = 0;
      if (colon != std::string::npos) {
        try {
          n.slots = std::stoi(item.substr(colon + 1));
        } catch (...) {
        }
        if (n.slots <= 0) {
          error = "--nodes: \"" + item + "\" is not NAME or NAME:SLOTS with SLOTS >= 1";
          return false;
        }
      }
      if (n.name.empty()) {
        error = "--nodes: empty node name";
        return false;
      }
      nodes.push_back(n);
    }
    // Nodes without a slot count share the ranks evenly.
    int fixed = 0, open = 0;
    for (const auto& n : nodes) (n.slots ? fixed : open) += n.slots ? n.slots : 1;
    for (auto& n : nodes)
      if (n.slots == 0) n.slots = std::max(1, (std::max(ranks - fixed, open) + open - 1) / open);
    return true;
  }
  if (!o.hostfile.empty()) return read_hostfile(o.hostfile);
  if (auto slurm = core::getenv("SLURM_JOB_NODELIST")) {
    std::vector<std::string> names;
    if (!expand_nodelist(*slurm, names, error)) return false;
    int per = 1;
    if (auto c = core::getenv("SLURM_CPUS_ON_NODE")) per = std::max(1, std::atoi(c->c_str()));
    for (auto& name : names) nodes.push_back({name, per});
    return true;
  }
  if (auto def = core::getenv("OMPI_MCA_orte_default_hostfile")) return read_hostfile(*def);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  nodes.push_back({host, ranks > 0 ? ranks : static_cast<int>(std::thread::hardware_concurrency())});
  return true;
}

// The placement --map asks for: block or cyclic over `nodes`, or a rankfile.
bool place_by_map(const std::string& map, int wanted_ranks, const std::vector<NodeSlots>& nodes, int cores,
                  std::vector<RankPlace>& placement, std::string& error) {
  if (map == "block" || map == "cyclic") {
    int ranks = wanted_ranks;
    if (ranks == 0)
      for (const auto& n : nodes) ranks += n.slots;
    return place(ranks, nodes, map == "block" ? MapPolicy::Block : MapPolicy::Cyclic, cores, placement, error);
  }
  std::ifstream in(map);
  if (!in) {
    error = "--map: \"" + map + "\" is neither block, cyclic nor a readable rankfile";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (!parse_rankfile(ss.str(), placement, error)) {
    error = map + ": " + error;
    return false;
  }
  if (wanted_ranks != 0 && wanted_ranks != static_cast<int>(placement.size())) {
    error = "-np " + std::to_string(wanted_ranks) + " but the rankfile places " + std::to_string(placement.size()) + " ranks";
    return false;
  }
  return true;
}

bool write_text(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.good()) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

int run_job(const RunOptions& o) {
  // Blocked before any thread starts, so that signals reach only the wait loop below.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &signals, &old_mask);
  std::optional<migrate::Manifest> restart;
  if (!o.restart.empty()) {
    std::string error;
    restart = migrate::read_manifest(o.restart, error);
    if (!restart) return fail(error);
  }
  const std::vector<std::string> command = restart ? restart->command : o.command;
  if (command.empty()) return fail("no program to run (usage: ferry run [options] -- PROGRAM [ARGS])");
  core::LoadOptions load;
  load.file = o.config;
  std::vector<std::string> errors;
  const core::Config config = core::Config::load(load, errors);
  if (!errors.empty()) {
    for (const auto& e : errors) std::fprintf(stderr, "ferry run: %s\n", e.c_str());
    return 2;
  }
  core::set_log_level(core::parse_level(config.get_string("log.level")));
  core::set_log_prefix("ferry run");
  if (geteuid() == 0 && !core::getenv("OMPI_ALLOW_RUN_AS_ROOT"))
    return fail("running as root: mpirun refuses unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set");

  std::string error;
  std::vector<NodeSlots> nodes;
  std::vector<RankPlace> placement;
  const bool placed_by_checkpoint = restart && o.nodes.empty() && o.hostfile.empty();
  const int wanted_ranks = restart ? static_cast<int>(restart->ranks.size()) : o.ranks;
  const int cores = config.get_int("run.cores") > 0 ? static_cast<int>(config.get_int("run.cores"))
                                                    : static_cast<int>(std::thread::hardware_concurrency());
  if (placed_by_checkpoint) {
    // Where the checkpoint left each rank, on the nodes the job had.
    for (const auto& n : restart->nodes) {
      const auto colon = n.rfind(':');
      nodes.push_back({n.substr(0, colon), colon == std::string::npos ? 1 : std::max(1, std::atoi(n.c_str() + colon + 1))});
    }
    for (const auto& r : restart->ranks) placement.push_back({static_cast<int>(r.rank), r.node, r.slot});
  } else if (!resolve_nodes(o, wanted_ranks, nodes, error) ||
             !place_by_map(o.map, wanted_ranks, nodes, cores, placement, error)) {
    return fail(error);
  }
  if (restart && placement.size() != restart->ranks.size())
    return fail(o.restart + " is a checkpoint of " + std::to_string(restart->ranks.size()) + " ranks; the placement has " +
                std::to_string(placement.size()));
  const std::string library = find_library(error);
  if (library.empty()) return fail(error);

  const std::string id = !o.job.empty() ? o.job
                         : restart   ? restart->job
                                     : fs::path(command[0]).filename().string() + "-" + std::to_string(getpid());
  if (!valid_job_name(id)) return fail("job name \"" + id + "\" must be 1-64 letters, digits, '-', '_' or '.'");
  const std::string root = run_dir(config);
  JobInfo job;
  job.id = id;
  job.pid = getpid();
  job.dir = root + "/" + id;
  job.control = job.dir + "/control.sock";
  job.placement = placement;
  job.command = command;
  job.started = now_iso8601();
  job.state = "starting";
  for (const auto& n : nodes) job.nodes.push_back(n.name);
  if (auto existing = read_job(job.dir + "/job.json", error); existing && process_alive(existing->pid))
    return fail("a job named \"" + id + "\" is already running (pid " + std::to_string(existing->pid) + "); choose another --job");
  std::error_code ec;
  fs::remove_all(job.dir, ec);
  if (!ensure_dir(job.dir, error)) return fail(error);

  // Checkpoints: where committed epochs are kept, and how images move (filem).
  const std::string checkpoint_dir =
      config.get_string("migrate.dir").empty() ? root + "/checkpoints" : config.get_string("migrate.dir");
  std::string filem = config.get_string("migrate.filem");
  const std::string& shared_dir = config.get_string("migrate.shared_dir");
  if (filem == "auto") filem = shared_dir.empty() ? "mpi" : "shared";
  if (filem == "shared" && shared_dir.empty())
    return fail("migrate.filem = \"shared\" needs migrate.shared_dir, a directory every node sees");
  Orchestrator::Options orchestration;
  orchestration.job = id;
  orchestration.command = command;
  orchestration.nodes = nodes;
  orchestration.cores = cores;
  orchestration.checkpoint_dir = checkpoint_dir;
  orchestration.filem = filem;
  orchestration.keep = static_cast<int>(config.get_int("migrate.keep"));
  orchestration.timeout = config.get_double("migrate.timeout");
  // Epoch numbers only grow, also over a restart: a rank ignores a request it has seen.
  for (const auto& path : migrate::list_manifests(checkpoint_dir, id))
    if (auto m = migrate::read_manifest(path, error)) orchestration.first_epoch = std::max(orchestration.first_epoch, m->epoch + 1);
  if (restart) orchestration.first_epoch = std::max(orchestration.first_epoch, restart->epoch + 1);

  monitor::Collector collector;
  Orchestrator* orchestrator_ptr = nullptr;
  monitor::Collector::Options collector_options;
  collector_options.on_control = [&orchestrator_ptr](std::uint32_t rank, const std::string& json) {
    if (orchestrator_ptr != nullptr) orchestrator_ptr->on_control(rank, json);
  };
  if (!collector.start(collector_options, error)) return fail(error);
  Orchestrator orchestrator(orchestration, collector, placement);
  orchestrator_ptr = &orchestrator;
  std::mutex job_mutex;  // `job` is read by the control thread while the main loop updates it
  const double window = config.get_double("status.window");
  JobMetrics metrics(job, collector, window, config.get_int("exporter.rank_labels_max"));
  metrics.start();
  exporters::Exposer exposer(metrics.registry());
  if (const auto& listen = config.get_string("exporter.listen"); !listen.empty()) {
    if (exposer.start(listen, error)) {
      const std::string host = listen.substr(0, listen.rfind(':'));
      job.metrics = "http://" + (host.empty() ? std::string("127.0.0.1") : host) + ":" + std::to_string(exposer.port()) + "/metrics";
      core::log_info("metrics at " + job.metrics);
    } else {
      core::log_warn(error + "; the job runs without a metrics endpoint (exporter.listen)");
    }
  }
  ControlServer control;
  if (!control.start(job.control, [&](const nlohmann::json& request) -> nlohmann::json {
        const std::string cmd = request["cmd"];
        if (cmd == "status") {
          if (request.contains("window") && !(request["window"].is_number() && request["window"].get<double>() > 0))
            return error_reply("status: \"window\" must be a positive number of seconds");
          const double w = request.value("window", window);
          std::lock_guard lock(job_mutex);
          return job_status(job, collector.recent(w), w);
        }
        if (cmd == "migrate") return orchestrator.request_migration(request);
        if (cmd == "checkpoint") return orchestrator.request_checkpoint(request);
        if (cmd == "migration") return orchestrator.progress(request);
        return error_reply("unknown command \"" + cmd + "\" (commands: status, migrate, checkpoint, migration)");
      }, error))
    return fail(error);

  // One mpirun per placement: the first, and one after each migration.
  auto launch = [&](const std::vector<RankPlace>& where, const std::string& restart_manifest, std::string& why) -> pid_t {
    std::string hostfile;
    std::map<std::string, int> used;
    for (const auto& p : where) ++used[p.node];
    for (const auto& [name, count] : used) hostfile += name + " slots=" + std::to_string(count) + "\n";
    if (!write_text(job.dir + "/hostfile", hostfile, why) || !write_text(job.dir + "/rankfile", rankfile_text(where), why))
      return -1;
    std::vector<std::string> argv = {"mpirun", "--hostfile", job.dir + "/hostfile", "--rankfile", job.dir + "/rankfile",
                                     "-np", std::to_string(where.size())};
    auto export_var = [&](const std::string& name, const std::string& value) {
      argv.push_back("-x");
      argv.push_back(name + "=" + value);
    };
    export_var("FERRY_ENABLE", "1");
    export_var("FERRY_JOB", id);
    export_var("FERRY_COLLECTOR_ADDRESS", monitor::local_addresses(collector.port()));
    export_var("FERRY_MONITOR_TABLE", "0");  // the supervisor prints the job's table
    export_var("FERRY_MIGRATE_DIR", checkpoint_dir);
    export_var("LD_PRELOAD", library);
    if (!restart_manifest.empty()) export_var("FERRY_RESTART", restart_manifest);
    if (!config.file().empty()) export_var("FERRY_CONFIG", fs::absolute(config.file()).string());
    for (const auto& [name, value] : core::ferry_environment())
      if (name != "FERRY_ENABLE" && name != "FERRY_JOB" && name != "FERRY_COLLECTOR_ADDRESS" &&
          name != "FERRY_MONITOR_TABLE" && name != "FERRY_CONFIG" && name != "FERRY_MIGRATE_DIR" && name != "FERRY_RESTART")
        export_var(name, value);
    argv.insert(argv.end(), command.begin(), command.end());
    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0) {
      why = std::string("cannot fork: ") + std::strerror(errno);
      return -1;
    }
    if (child == 0) {
      // mpirun dies with its supervisor, so a killed `ferry run` leaves no job behind.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execvp("mpirun", cargv.data());
      std::fprintf(stderr, "ferry run: cannot start mpirun: %s\n", std::strerror(errno));
      _exit(127);
    }
    return child;
  };

  pid_t child = launch(placement, restart ? o.restart : "", error);
  if (child < 0) return fail(error);
  {
    std::lock_guard lock(job_mutex);
    job.mpirun_pid = child;
    job.state = "running";
  }
  if (!write_job(job, error)) core::log_warn(error);

  int status = 0;
  int forwarded = 0;
  auto deadline = std::chrono::steady_clock::time_point::max();
  for (;;) {
    // Faster while a migration runs: its stages are timed from here.
    timespec tick{0, orchestrator.busy() ? 20000000 : 200000000};
    siginfo_t info{};
    const int sig = sigtimedwait(&signals, &info, &tick);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      ++forwarded;
      // A second request, or a job that ignores the first, ends it for good.
      kill(child, forwarded == 1 ? sig : SIGKILL);
      if (forwarded == 1) deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    orchestrator.tick();
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done != child) continue;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    collector.wait_disconnected(3.0);  // the ranks' last reports are in
    const auto manifest = forwarded == 0 ? orchestrator.on_job_exit(code) : std::nullopt;
    if (!manifest) break;
    // The ranks left for a migration: the job goes on from the committed epoch, moved.
    const auto moved = orchestrator.placement();
    child = launch(moved, *manifest, error);
    if (child < 0) {
      core::log_error("cannot relaunch the job after the migration: " + error + "; restart it with: ferry restart " + *manifest);
      status = 2 << 8;
      break;
    }
    {
      std::lock_guard lock(job_mutex);
      job.placement = moved;
      job.mpirun_pid = child;
    }
    if (!write_job(job, error)) core::log_warn(error);
  }
  const int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  {
    std::lock_guard lock(job_mutex);
    job.state = exit_status == 0 ? "finished" : "failed";
    job.exit_status = exit_status;
  }
  write_job(job, error);

  // mpirun is gone, so every rank is too: what they sent is in once their connections closed.
  collector.wait_disconnected(2.0);
  auto report = monitor::build_report(id, static_cast<std::uint32_t>(placement.size()), collector.snapshot());
  if (config.get_bool("monitor.table")) std::fputs(monitor::format_table(report).c_str(), stderr);
  if (const auto& path = config.get_string("monitor.report"); !path.empty())
    if (!write_text(path, monitor::to_json(report), error)) core::log_error(error);
  metrics.stop();
  metrics.refresh();
  if (const auto& push = config.get_string("exporter.push"); !push.empty())
    if (!exporters::push_to_gateway(push, id, *metrics.registry(), error)) core::log_warn("pushgateway: " + error);
  exposer.stop();
  control.stop();
  collector.stop();
  fs::remove_all(job.dir, ec);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return exit_status;
}

}  // namespace ferry::supervisor
