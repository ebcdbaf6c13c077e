// The Prometheus view of a job run by `ferry run`: the metric set of the design brief (per rank,
// per node, per job), refreshed from the collector once a second on a thread of its own and
// served by the exporter. Nothing here is on a rank's path or blocks the collector for long.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "exporters/metrics.h"
#include "monitor/collector.h"
#include "supervisor/registry.h"

namespace ferry::supervisor {

class JobMetrics {
 public:
  /// `rank_labels_max`: above this many ranks, per-rank series are not exported (cardinality).
  JobMetrics(const JobInfo& job, monitor::Collector& collector, double window, std::int64_t rank_labels_max);
  ~JobMetrics();
  JobMetrics(const JobMetrics&) = delete;
  JobMetrics& operator=(const JobMetrics&) = delete;

  std::shared_ptr<const exporters::Registry> registry() const { return registry_; }
  /// Brings every metric up to date now (also done once a second by the thread).
  void refresh() noexcept;
  void start();
  void stop() noexcept;

 private:
  void run() noexcept;

  const JobInfo& job_;
  monitor::Collector& collector_;
  double window_;
  bool per_rank_;
  std::shared_ptr<exporters::Registry> registry_;
  exporters::Family<exporters::Counter>* compute_;
  exporters::Family<exporters::Counter>* mpi_;
  exporters::Family<exporters::Counter>* cpu_;
  exporters::Family<exporters::Gauge>* load_;
  exporters::Family<exporters::Gauge>* node_ranks_;
  exporters::Family<exporters::Gauge>* node_capacity_;
  exporters::Gauge* imbalance_;
  exporters::Counter* dropped_;
  exporters::Counter* samples_;
  struct Last {
    double compute = 0, mpi = 0, cpu = 0;
    std::uint32_t incarnation = 0;  // a restarted rank counts from zero again: added on top
  };
  std::map<std::uint32_t, Last> last_;  // totals already added to the counters
  std::uint64_t last_dropped_ = 0, last_samples_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry::supervisor
