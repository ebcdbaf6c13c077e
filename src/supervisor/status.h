// A job's live status from the collector's sample windows: per rank and per node, the shares of
// wall time spent computing, in MPI, and of CPU received, over the recent window.
#pragma once

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "monitor/collector.h"
#include "supervisor/registry.h"

namespace ferry::supervisor {

/// Shares of wall time over a rank's recent samples (differences between the newest sample and
/// the oldest one inside `window` seconds; a single sample counts from MPI_Init).
struct Shares {
  double compute = 0, mpi = 0, cpu = 0;
  double seconds = 0;  ///< the span measured; 0 when there was nothing to measure
};
Shares window_shares(const std::deque<core::Sample>& samples, double window);

/// JSON status (the reply to {"cmd":"status"}); `window` seconds of samples are averaged.
nlohmann::json job_status(const JobInfo& job, const std::map<std::uint32_t, monitor::RankRecord>& ranks,
                          double window);

/// The table `ferry status` prints.
std::string format_status(const nlohmann::json& status);

}  // namespace ferry::supervisor
