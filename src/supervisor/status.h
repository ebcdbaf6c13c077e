// A job's live status from the collector's sample windows: per rank and per node, the shares of
// wall time spent computing, in MPI, and of CPU received, over the recent window.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "monitor/collector.h"
#include "supervisor/registry.h"

namespace ferry::supervisor {

/// JSON status (the reply to {"cmd":"status"}); `window` seconds of samples are averaged.
nlohmann::json job_status(const JobInfo& job, const std::map<std::uint32_t, monitor::RankRecord>& ranks,
                          double window);

/// The table `ferry status` prints.
std::string format_status(const nlohmann::json& status);

}  // namespace ferry::supervisor
