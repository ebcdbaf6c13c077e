// Where a rank runs: node name, and the core and NUMA node of a CPU, from hwloc. The topology is
// read once; afterwards a lookup is a table index, cheap enough for every sample.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <vector>

namespace ferry::monitor {

class Placement {
 public:
  Placement();
  /// Reads the node's topology (once; on the sampler thread). Never throws; until it is read, or
  /// without hwloc data, core and NUMA are -1.
  void load() noexcept;

  struct Location {
    int core = -1;  ///< hwloc logical index of the core
    int numa = -1;  ///< hwloc logical index of the NUMA node
  };

  /// Location of OS CPU `cpu` (as sched_getcpu() returns it).
  Location of_cpu(int cpu) const noexcept;
  /// Location of the calling thread now.
  Location here() const noexcept;
  /// Location of thread `tid` of this process, from /proc (for the sampler thread's samples).
  Location of_thread(pid_t tid) const noexcept;

  const std::string& node() const noexcept { return node_; }
  int cores() const noexcept { return cores_; }

 private:
  std::string node_;
  std::vector<Location> by_cpu_;  // indexed by OS CPU number; read only once ready_
  std::atomic<bool> ready_{false};
  int cores_ = 0;
};

/// The node name ferry reports: the hostname (each simulated node has its own).
std::string node_name();

}  // namespace ferry::monitor
