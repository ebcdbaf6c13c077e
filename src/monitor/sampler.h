// Turns a rank's counters into samples and streams them to the collector.
//
// The application thread takes a sample at an MPI call boundary once one is due (it alone can
// read its PAPI event set) and pushes it into a bounded queue. A low-priority sampler thread
// sends the queue's samples and takes a sample itself when the application has been away from
// MPI for longer than an interval, so compute-only phases are seen too. Nothing here blocks the
// application: a full queue or a slow collector costs samples (counted), never time.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sample.h"
#include "monitor/papi_counters.h"
#include "monitor/placement.h"
#include "monitor/sample_queue.h"

namespace ferry::monitor {

class Sampler {
 public:
  struct Options {
    double interval = 1.0;
    std::size_t queue_samples = 4096;
    std::string collector;  ///< "host:port[,host:port...]": tried in order
    core::Hello hello;
    /// Called on the sampler thread with each control message the collector sends.
    std::function<void(const std::string&)> on_control;
  };

  Sampler(const Options& options, PapiCounters& papi, Placement& placement);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  /// Starts the sampler thread. Call on the application thread, after its counters started.
  bool start() noexcept;
  /// A sample at an MPI call boundary (application thread).
  void at_boundary(std::uint64_t now) noexcept;
  /// Takes the final sample, sends what is queued (waiting at most `flush_seconds`) and stops.
  void finish(double flush_seconds) noexcept;

  /// Queues a control message (JSON) for the collector and wakes the thread to send it; any
  /// thread. Kept until sent, through reconnects, up to finish().
  void send_control(const std::string& json) noexcept;

  std::uint64_t dropped() const noexcept { return queue_.dropped(); }
  std::uint64_t sent() const noexcept { return sent_.load(); }

 private:
  core::Sample take(std::uint64_t now, bool on_app_thread, std::uint8_t flags) noexcept;
  void run() noexcept;
  bool connect_collector() noexcept;
  void queue_bytes(const core::Sample& s) noexcept;
  bool flush(int wait_ms) noexcept;
  void take_outbox() noexcept;
  void receive() noexcept;
  void disconnect() noexcept;

  Options options_;
  PapiCounters& papi_;
  Placement& placement_;
  SampleQueue queue_;
  std::uint64_t interval_ticks_ = 0;
  std::uint64_t start_tick_ = 0;
  pid_t app_tid_ = 0;
  clockid_t app_cpu_clock_{};
  double cpu_at_start_ = 0;  // the thread's CPU time before MPI_Init returned is not the job's
  std::atomic<std::int64_t> last_papi_[core::kMaxPapiEvents];  // zero (C++20)
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<bool> boundary_busy_{false};

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool have_final_ = false;
  double flush_seconds_ = 0;  // how long the stopping thread may wait to send what is left
  core::Sample final_{};
  std::vector<std::string> outbox_;  // control messages not yet in out_, under mutex_

  // Owned by the sampler thread.
  int fd_ = -1;
  std::uint64_t next_connect_ = 0;
  std::vector<std::uint8_t> out_;
  std::vector<std::uint8_t> in_;
};

}  // namespace ferry::monitor
