// The end-of-job figures of every rank, built from what the collector received: the table rank 0
// prints at MPI_Finalize in direct mode, and its JSON form (monitor.report).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "monitor/collector.h"

namespace ferry::monitor {

struct RankRow {
  std::uint32_t rank = 0;
  std::string node;
  int core = -1;
  int numa = -1;
  double wall = 0, compute = 0, mpi = 0, cpu = 0;
  double cpu_share = 0;  ///< CPU seconds received per wall second
  std::uint64_t calls = 0, messages_sent = 0, messages_received = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0, collective_bytes = 0;
  std::uint64_t samples = 0, dropped = 0;
  std::vector<std::int64_t> papi;
  bool complete = false;  ///< its final sample arrived: the figures are totals
};

struct JobReport {
  std::string job;
  std::uint32_t ranks_expected = 0;
  std::vector<std::string> papi_events;
  std::vector<RankRow> ranks;
  double imbalance = 0;  ///< of compute time: max/mean − 1
  /// Point-to-point messages on MPI_COMM_WORLD: sent[i][j] = from rank i to rank j, received[i][j]
  /// = by rank i from rank j. Filled at MPI_Finalize for jobs of up to kMaxMatrixRanks ranks.
  std::vector<std::vector<std::uint64_t>> world_sent, world_received;
};

inline constexpr std::uint32_t kMaxMatrixRanks = 1024;

JobReport build_report(const std::string& job, std::uint32_t ranks_expected,
                       const std::map<std::uint32_t, RankRecord>& records);
std::string format_table(const JobReport& report);
std::string to_json(const JobReport& report);

}  // namespace ferry::monitor
