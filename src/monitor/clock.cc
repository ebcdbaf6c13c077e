#include "monitor/clock.h"

#include <cpuid.h>
#include <cstring>
#include <fstream>
#include <string>

namespace ferry::monitor {

namespace detail {
bool g_use_tsc = false;
double g_seconds_per_tick = 1e-9;
}  // namespace detail

namespace {

// The TSC is only a clock when it runs at a constant rate across frequency changes and idle
// states; the kernel reports both as cpu flags.
bool tsc_is_invariant() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      return line.find(" constant_tsc") != std::string::npos &&
             line.find(" nonstop_tsc") != std::string::npos;
    }
  }
  return false;
}

std::uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

void clock_init() noexcept {
  static bool done = false;
  if (done) return;
  done = true;
  try {
    if (!tsc_is_invariant()) return;
    // 20 ms against CLOCK_MONOTONIC gives the rate to ~1e-5, plenty for time accounting.
    const std::uint64_t n0 = monotonic_ns();
    const std::uint64_t t0 = __rdtsc();
    timespec pause{0, 20000000};
    nanosleep(&pause, nullptr);
    const std::uint64_t n1 = monotonic_ns();
    const std::uint64_t t1 = __rdtsc();
    if (t1 <= t0 || n1 <= n0) return;
    detail::g_seconds_per_tick = static_cast<double>(n1 - n0) * 1e-9 / static_cast<double>(t1 - t0);
    detail::g_use_tsc = true;
  } catch (...) {
    detail::g_use_tsc = false;
    detail::g_seconds_per_tick = 1e-9;
  }
}

std::uint64_t seconds_to_ticks(double seconds) noexcept {
  return static_cast<std::uint64_t>(seconds / detail::g_seconds_per_tick);
}

std::int64_t unix_nanoseconds() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000ll + ts.tv_nsec;
}

}  // namespace ferry::monitor
