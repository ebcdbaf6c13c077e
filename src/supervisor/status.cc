#include "supervisor/status.h"

#include <cstdio>
#include <map>

#include "core/stats.h"

namespace ferry::supervisor {

Shares window_shares(const std::deque<core::Sample>& w, double window) {
  Shares s;
  if (w.empty()) return s;
  const core::Sample& last = w.back();
  // Every rank starts from zero at MPI_Init: that is the first point of a young window.
  if (w.size() == 1) {
    if (last.wall <= 0) return s;
    s.seconds = last.wall;
    s.mpi = last.mpi / last.wall;
    s.compute = last.compute() / last.wall;
    s.cpu = last.cpu / last.wall;
    return s;
  }
  const core::Sample* first = &w.front();
  for (const auto& x : w)
    if (last.wall - x.wall <= window) {
      first = &x;
      break;
    }
  if (first == &last) first = &w[w.size() - 2];
  const double dt = last.wall - first->wall;
  if (dt <= 0) return s;
  s.seconds = dt;
  s.mpi = (last.mpi - first->mpi) / dt;
  s.compute = (last.compute() - first->compute()) / dt;
  s.cpu = (last.cpu - first->cpu) / dt;
  return s;
}

nlohmann::json job_status(const JobInfo& job, const std::map<std::uint32_t, monitor::RankRecord>& ranks,
                          double window) {
  nlohmann::json out;
  out["ok"] = true;
  out["job"] = job.id;
  out["pid"] = job.pid;
  out["state"] = job.state;
  out["window_seconds"] = window;
  auto& rows = out["ranks"] = nlohmann::json::array();
  struct NodeSum {
    int ranks = 0, reporting = 0;
    double cpu = 0, compute = 0;
  };
  std::map<std::string, NodeSum> nodes;
  std::vector<double> compute;
  for (const auto& p : job.placement) {
    nlohmann::json row = {{"rank", p.rank}, {"node", p.node}, {"slot", p.slot}};
    NodeSum& n = nodes[p.node];
    ++n.ranks;
    auto it = ranks.find(static_cast<std::uint32_t>(p.rank));
    if (it == ranks.end() || it->second.window.empty()) {
      row["state"] = "waiting";
      rows.push_back(row);
      continue;
    }
    const auto& r = it->second;
    const Shares s = window_shares(r.window, window);
    row["reported_node"] = r.hello.node;
    row["core"] = r.window.back().core;
    row["state"] = r.finished ? "finished" : r.lost ? "dead" : r.connected ? "running" : "disconnected";
    row["compute_share"] = s.compute;
    row["mpi_share"] = s.mpi;
    row["cpu_share"] = s.cpu;
    row["samples"] = r.samples;
    row["dropped"] = r.window.back().dropped + r.gaps;
    if (s.seconds > 0) {
      ++n.reporting;
      n.cpu += s.cpu;
      n.compute += s.compute;
      compute.push_back(s.compute);
    }
    rows.push_back(row);
  }
  auto& node_rows = out["nodes"] = nlohmann::json::array();
  for (const auto& [name, n] : nodes)
    node_rows.push_back({{"node", name},
                         {"ranks", n.ranks},
                         {"cpu_share", n.reporting ? n.cpu / n.reporting : 0.0},
                         {"compute_share", n.reporting ? n.compute / n.reporting : 0.0}});
  out["imbalance"] = core::imbalance(compute);
  return out;
}

std::string format_status(const nlohmann::json& s) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "job %s (pid %d) %s — shares over the last %.0f s\n",
                s.value("job", "?").c_str(), s.value("pid", 0), s.value("state", "?").c_str(),
                s.value("window_seconds", 0.0));
  out += line;
  std::snprintf(line, sizeof line, "%5s  %-12s %4s %9s %7s %7s %7s  %s\n", "rank", "node", "core", "state",
                "compute", "mpi", "cpu", "samples");
  out += line;
  for (const auto& r : s["ranks"]) {
    std::snprintf(line, sizeof line, "%5d  %-12s %4d %9s %6.1f%% %6.1f%% %6.1f%%  %llu\n", r.value("rank", -1),
                  r.value("node", "?").c_str(), r.value("core", -1), r.value("state", "?").c_str(),
                  100 * r.value("compute_share", 0.0), 100 * r.value("mpi_share", 0.0),
                  100 * r.value("cpu_share", 0.0), static_cast<unsigned long long>(r.value("samples", 0ull)));
    out += line;
  }
  out += "\n";
  std::snprintf(line, sizeof line, "%-12s %5s %7s %7s\n", "node", "ranks", "cpu", "compute");
  out += line;
  for (const auto& n : s["nodes"]) {
    std::snprintf(line, sizeof line, "%-12s %5d %6.1f%% %6.1f%%\n", n.value("node", "?").c_str(), n.value("ranks", 0),
                  100 * n.value("cpu_share", 0.0), 100 * n.value("compute_share", 0.0));
    out += line;
  }
  std::snprintf(line, sizeof line, "\nimbalance (max/mean - 1 of compute share): %.3f\n", s.value("imbalance", 0.0));
  out += line;
  return out;
}

}  // namespace ferry::supervisor
