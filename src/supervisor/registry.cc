#include "supervisor/registry.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/environment.h"

namespace ferry::supervisor {

namespace fs = std::filesystem;

std::string run_dir(const core::Config& config) {
  const std::string& configured = config.get_string("run.dir");
  if (!configured.empty()) return configured;
  if (geteuid() == 0) return "/run/ferry";
  if (auto xdg = core::getenv("XDG_RUNTIME_DIR"); xdg && !xdg->empty()) return *xdg + "/ferry";
  return "/tmp/ferry-" + std::to_string(getuid());
}

bool ensure_dir(const std::string& dir, std::string& error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    error = "cannot create directory " + dir + ": " + (ec ? ec.message() : std::strerror(errno));
    return false;
  }
  return true;
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

bool write_job(const JobInfo& job, std::string& error) {
  nlohmann::json j;
  j["id"] = job.id;
  j["pid"] = job.pid;
  j["mpirun_pid"] = job.mpirun_pid;
  j["state"] = job.state;
  j["exit_status"] = job.exit_status;
  j["nodes"] = job.nodes;
  j["command"] = job.command;
  j["started"] = job.started;
  j["control"] = job.control;
  j["metrics"] = job.metrics;
  auto& placement = j["placement"] = nlohmann::json::array();
  for (const auto& p : job.placement) placement.push_back({{"rank", p.rank}, {"node", p.node}, {"slot", p.slot}});
  const std::string path = job.dir + "/job.json", tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out.good()) {
      error = "cannot write " + tmp + ": " + std::strerror(errno);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<JobInfo> read_job(const std::string& path, std::string& error) {
  try {
    std::ifstream in(path);
    if (!in) {
      error = path + ": cannot read: " + std::strerror(errno);
      return std::nullopt;
    }
    const auto j = nlohmann::json::parse(in);
    JobInfo job;
    job.id = j.at("id");
    job.pid = j.at("pid");
    job.mpirun_pid = j.value("mpirun_pid", 0);
    job.state = j.value("state", "unknown");
    job.exit_status = j.value("exit_status", -1);
    job.nodes = j.value("nodes", std::vector<std::string>{});
    job.command = j.value("command", std::vector<std::string>{});
    job.started = j.value("started", "");
    job.control = j.value("control", "");
    job.metrics = j.value("metrics", "");
    job.dir = fs::path(path).parent_path().string();
    for (const auto& p : j.value("placement", nlohmann::json::array()))
      job.placement.push_back({p.at("rank"), p.at("node"), p.at("slot")});
    return job;
  } catch (const std::exception& e) {
    error = path + ": not a valid job record (" + e.what() + ")";
    return std::nullopt;
  }
}

std::vector<JobInfo> list_jobs(const std::string& dir) {
  std::vector<JobInfo> jobs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto path = entry.path() / "job.json";
    if (!fs::exists(path, ec)) continue;
    std::string error;
    if (auto job = read_job(path.string(), error); job && process_alive(job->pid)) jobs.push_back(*job);
  }
  std::sort(jobs.begin(), jobs.end(), [](const JobInfo& a, const JobInfo& b) { return a.started < b.started; });
  return jobs;
}

std::optional<JobInfo> find_job(const std::string& dir, const std::string& id_or_pid, std::string& error) {
  const auto jobs = list_jobs(dir);
  for (const auto& j : jobs)
    if (j.id == id_or_pid || std::to_string(j.pid) == id_or_pid) return j;
  std::string known;
  for (const auto& j : jobs) known += (known.empty() ? "" : ", ") + j.id + " (pid " + std::to_string(j.pid) + ")";
  error = "no running job \"" + id_or_pid + "\" in " + dir + " (" + (known.empty() ? "no jobs are running" : "running: " + known) + ")";
  return std::nullopt;
}

}  // namespace ferry::supervisor
