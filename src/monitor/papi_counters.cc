#include "monitor/papi_counters.h"

#include <linux/perf_event.h>
#include <papi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace ferry::monitor {

namespace {
constexpr const char* kTaskClock = "perf::TASK-CLOCK";

bool papi_library_ready(std::string& reason) {
  const int v = PAPI_is_initialized() ? PAPI_VER_CURRENT : PAPI_library_init(PAPI_VER_CURRENT);
  if (v != PAPI_VER_CURRENT) {
    reason = "PAPI could not start (" + std::string(v < 0 ? PAPI_strerror(v) : "version mismatch") + ")";
    return false;
  }
  return true;
}
}  // namespace

PapiCounters::~PapiCounters() { stop(); }

bool PapiCounters::start_papi(const std::vector<std::string>& events, StartReport& report) {
  if (!papi_library_ready(report.reason)) {
    report.skipped = events;
    return false;
  }
  int set = PAPI_NULL;
  if (PAPI_create_eventset(&set) != PAPI_OK) {
    report.skipped = events;
    report.reason = "PAPI could not create an event set";
    return false;
  }
  for (const auto& name : events) {
    if (names_.size() >= core::kMaxPapiEvents) {
      report.skipped.push_back(name);
      continue;
    }
    int code = 0;
    int rc = PAPI_event_name_to_code(const_cast<char*>(name.c_str()), &code);
    if (rc == PAPI_OK) rc = PAPI_add_event(set, code);
    if (rc != PAPI_OK) {
      report.skipped.push_back(name);
      if (report.reason.empty()) report.reason = PAPI_strerror(rc);
      continue;
    }
    names_.push_back(name);
  }
  if (names_.empty() || PAPI_start(set) != PAPI_OK) {
    for (auto& n : names_) report.skipped.push_back(n);
    names_.clear();
    PAPI_cleanup_eventset(set);
    PAPI_destroy_eventset(&set);
    return false;
  }
  event_set_ = set;
  papi_count_ = static_cast<int>(names_.size());
  return true;
}

bool PapiCounters::start_task_clock_fd() {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &attr, 0 /*this thread*/, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    // perf_event_paranoid 2 (Debian's default) lets a user count only its own user-space time.
    attr.exclude_kernel = 1;
    fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  }
  if (fd < 0) return false;
  task_clock_fd_ = static_cast<int>(fd);
  return true;
}

PapiCounters::StartReport PapiCounters::start(const std::vector<std::string>& events) noexcept {
  StartReport report;
  try {
    if (!events.empty()) start_papi(events, report);
    if (!names_.empty()) return report;
    // Nothing requested could be counted: keep the CPU time the rank really receives. The
    // fallback is not something the user asked for, so its own failure is not "skipped".
    const std::size_t asked = report.skipped.size();
    const std::string reason = report.reason;
    const bool via_papi = start_papi({kTaskClock}, report);
    report.skipped.resize(asked);
    report.reason = reason;
    if (via_papi) {
      report.fallback = std::string(kTaskClock) + " (PAPI)";
    } else if (start_task_clock_fd()) {
      names_.push_back(kTaskClock);
      report.fallback = std::string(kTaskClock) + " (perf_event_open)";
    }
  } catch (...) {
    names_.clear();
  }
  return report;
}

void PapiCounters::read(std::int64_t* out) noexcept {
  if (event_set_ != -1) {
    long long v[core::kMaxPapiEvents] = {};
    if (PAPI_read(event_set_, v) == PAPI_OK)
      for (int i = 0; i < papi_count_; ++i) out[i] = v[i];
  }
  if (task_clock_fd_ >= 0) {
    std::uint64_t v = 0;
    if (::read(task_clock_fd_, &v, sizeof v) == static_cast<ssize_t>(sizeof v))
      out[papi_count_] = static_cast<std::int64_t>(v);
  }
}

void PapiCounters::stop() noexcept {
  if (event_set_ != -1) {
    long long v[core::kMaxPapiEvents] = {};
    PAPI_stop(event_set_, v);
    PAPI_cleanup_eventset(event_set_);
    PAPI_destroy_eventset(&event_set_);
    event_set_ = -1;
  }
  if (task_clock_fd_ >= 0) {
    ::close(task_clock_fd_);
    task_clock_fd_ = -1;
  }
  papi_count_ = 0;
  names_.clear();
}

}  // namespace ferry::monitor
