#include "monitor/report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/stats.h"

namespace ferry::monitor {

JobReport build_report(const std::string& job, std::uint32_t ranks_expected,
                       const std::map<std::uint32_t, RankRecord>& records) {
  JobReport out;
  out.job = job;
  out.ranks_expected = ranks_expected;
  std::vector<double> compute;
  for (const auto& [rank, r] : records) {
    if (r.window.empty()) continue;
    const core::Sample& s = r.window.back();
    RankRow row;
    row.rank = rank;
    row.node = r.hello.node;
    row.core = s.core;
    row.numa = s.numa;
    row.wall = s.wall;
    row.mpi = s.mpi;
    row.compute = s.compute();
    row.cpu = s.cpu;
    row.cpu_share = s.wall > 0 ? s.cpu / s.wall : 0;
    row.calls = s.calls;
    row.messages_sent = s.messages_sent;
    row.messages_received = s.messages_received;
    row.bytes_sent = s.bytes_sent;
    row.bytes_received = s.bytes_received;
    row.collective_bytes = s.collective_bytes;
    row.samples = r.samples;
    row.dropped = s.dropped;
    row.papi.assign(s.papi.begin(), s.papi.begin() + s.papi_count);
    row.complete = r.finished;
    if (out.papi_events.empty()) out.papi_events = r.hello.papi_events;
    compute.push_back(row.compute);
    out.ranks.push_back(std::move(row));
  }
  out.imbalance = core::imbalance(compute);
  return out;
}

std::string format_table(const JobReport& report) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "ferry: job %s, %zu of %u ranks reported\n", report.job.c_str(),
                report.ranks.size(), report.ranks_expected);
  out += line;
  std::snprintf(line, sizeof line, "%5s  %-14s %4s %10s %10s %10s %6s %10s %12s %12s\n", "rank", "node", "core",
                "compute s", "mpi s", "cpu s", "cpu %", "calls", "msgs sent", "bytes sent");
  out += line;
  for (const auto& r : report.ranks) {
    std::snprintf(line, sizeof line, "%5u  %-14s %4d %10.3f %10.3f %10.3f %6.1f %10llu %12llu %12llu%s\n", r.rank,
                  r.node.substr(0, 64).c_str(), r.core, r.compute, r.mpi, r.cpu, 100.0 * r.cpu_share,
                  static_cast<unsigned long long>(r.calls), static_cast<unsigned long long>(r.messages_sent),
                  static_cast<unsigned long long>(r.bytes_sent), r.complete ? "" : "  (incomplete)");
    out += line;
  }
  std::snprintf(line, sizeof line, "ferry: imbalance (max/mean - 1 of compute time): %.3f\n", report.imbalance);
  out += line;
  return out;
}

std::string to_json(const JobReport& report) {
  nlohmann::json j;
  j["job"] = report.job;
  j["ranks_expected"] = report.ranks_expected;
  j["imbalance"] = report.imbalance;
  j["papi_events"] = report.papi_events;
  auto& ranks = j["ranks"] = nlohmann::json::array();
  for (const auto& r : report.ranks) {
    ranks.push_back({{"rank", r.rank},
                     {"node", r.node},
                     {"core", r.core},
                     {"numa", r.numa},
                     {"wall_seconds", r.wall},
                     {"compute_seconds", r.compute},
                     {"mpi_seconds", r.mpi},
                     {"cpu_seconds", r.cpu},
                     {"cpu_share", r.cpu_share},
                     {"calls", r.calls},
                     {"messages_sent", r.messages_sent},
                     {"messages_received", r.messages_received},
                     {"bytes_sent", r.bytes_sent},
                     {"bytes_received", r.bytes_received},
                     {"collective_bytes", r.collective_bytes},
                     {"samples", r.samples},
                     {"samples_dropped", r.dropped},
                     {"papi", r.papi},
                     {"complete", r.complete}});
  }
  if (!report.world_sent.empty()) {
    j["world_messages_sent"] = report.world_sent;
    j["world_messages_received"] = report.world_received;
  }
  // Names come from the environment and from the network unchecked: replace invalid UTF-8
  // instead of throwing (strict mode) and losing the whole report.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ferry::monitor
