// The job registry: one directory per running job under the run directory, holding job.json
// (id, pids, nodes, placement, state) and the job's control socket. `ferry jobs` and
// `ferry status` find jobs here.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "supervisor/placement.h"

namespace ferry::supervisor {

struct JobInfo {
  std::string id;
  pid_t pid = 0;         ///< the `ferry run` process (the supervisor)
  pid_t mpirun_pid = 0;
  std::string state;     ///< starting | running | finished | failed
  int exit_status = -1;
  std::vector<std::string> nodes;
  std::vector<RankPlace> placement;
  std::vector<std::string> command;
  std::string started;   ///< ISO 8601, UTC
  std::string dir;       ///< this job's registry directory
  std::string control;   ///< path of its control socket
  std::string metrics;   ///< URL of its Prometheus endpoint, empty when not served
};

/// The run directory: run.dir, else /run/ferry (root), $XDG_RUNTIME_DIR/ferry, /tmp/ferry-$UID.
std::string run_dir(const core::Config& config);
/// Creates `dir` (and parents) with mode 0700. False with `error` on failure.
bool ensure_dir(const std::string& dir, std::string& error);

/// Writes <dir>/job.json atomically (temp + rename).
bool write_job(const JobInfo& job, std::string& error);
std::optional<JobInfo> read_job(const std::string& job_json_path, std::string& error);

/// Jobs whose supervisor is still alive, by start time.
std::vector<JobInfo> list_jobs(const std::string& run_dir);
/// A job by id or by the PID of its `ferry run`. Error names the jobs that exist.
std::optional<JobInfo> find_job(const std::string& run_dir, const std::string& id_or_pid, std::string& error);

bool process_alive(pid_t pid);

/// Now, as ISO 8601 UTC ("2026-12-02T18:37:20Z"): job start times and epoch manifests.
std::string now_iso8601();

}  // namespace ferry::supervisor
