// Hardware and software counters of one rank. The PAPI event set belongs to the thread that
// starts it (the application's thread) and is read only at sample boundaries.
//
// Fallback when no requested event exists (VMs without a PMU): perf::TASK-CLOCK, the CPU time
// the kernel gives the thread — through PAPI when its perf_event component is up, else opened
// directly with perf_event_open, which is the same kernel counter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sample.h"

namespace ferry::monitor {

class PapiCounters {
 public:
  PapiCounters() = default;
  ~PapiCounters();
  PapiCounters(const PapiCounters&) = delete;
  PapiCounters& operator=(const PapiCounters&) = delete;

  struct StartReport {
    std::vector<std::string> skipped;  ///< requested events that could not be counted
    std::string reason;                ///< why, in a few words
    std::string fallback;              ///< e.g. "perf::TASK-CLOCK (perf_event_open)", empty if none
  };

  /// Starts counting `events` on the calling thread. Never throws.
  StartReport start(const std::vector<std::string>& events) noexcept;
  /// Reads the current values into out[0 .. names().size()). Call on the starting thread.
  void read(std::int64_t* out) noexcept;
  void stop() noexcept;
  const std::vector<std::string>& names() const noexcept { return names_; }

 private:
  bool start_papi(const std::vector<std::string>& events, StartReport& report);
  bool start_task_clock_fd();

  int event_set_ = -1;     // PAPI_NULL
  int papi_count_ = 0;     // values read from the PAPI event set
  int task_clock_fd_ = -1;
  std::vector<std::string> names_;
};

}  // namespace ferry::monitor
