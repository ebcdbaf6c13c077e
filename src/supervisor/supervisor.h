// `ferry run`: the process that owns a job. It places the ranks, starts mpirun with libferry
// preloaded into the ranks (not into mpirun or the orteds), hosts the collector every rank
// streams to and the job's control socket, forwards SIGINT/SIGTERM, and exits with the job's
// status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ferry::supervisor {

struct RunOptions {
  int ranks = 0;                      ///< -np; 0 = every slot of the nodes
  std::vector<std::string> nodes;     ///< --nodes a,b:2,c  (name[:slots])
  std::string hostfile;               ///< --hostfile F
  std::string map = "block";          ///< block | cyclic | path of a rankfile
  std::optional<std::string> config;  ///< --config F
  std::string job;                    ///< --job NAME
  std::vector<std::string> command;   ///< after --
  /// `ferry restart`: the epoch manifest to start from. Its program, ranks and (unless nodes are
  /// given) placement are used; the job's id is the checkpoint's unless --job is given.
  std::string restart;
};

/// Runs the job to its end. Returns the exit status for `ferry run` (the job's, or 2 when the
/// job could not be started, with the reason printed).
int run_job(const RunOptions& options);

}  // namespace ferry::supervisor
