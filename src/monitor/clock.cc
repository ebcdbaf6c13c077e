#include "monitor/clock.h"

#include <cpuid.h>
#include <cstring>
#include <fstream>
#include <string>

namespace ferry::monitor {

namespace detail {
bool g_use_tsc = false;
std::atomic<double> g_seconds_per_tick{1e-9};
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

namespace {
std::uint64_t g_base_tsc = 0;  // calibration baseline, set once in clock_init
std::uint64_t g_base_ns = 0;
}  // namespace

void clock_init() noexcept {
  static bool done = false;
  if (done) return;
  done = true;
  try {
    if (!tsc_is_invariant()) return;
    g_base_ns = monotonic_ns();
    g_base_tsc = __rdtsc();
    std::uint64_t n1 = g_base_ns, t1 = g_base_tsc;
    while (n1 - g_base_ns < 200000) {  // 0.2 ms: a first rate good to ~1e-2, refined within 0.25 s
      n1 = monotonic_ns();
      t1 = __rdtsc();
    }
    if (t1 <= g_base_tsc) return;
    detail::g_seconds_per_tick.store(static_cast<double>(n1 - g_base_ns) * 1e-9 / static_cast<double>(t1 - g_base_tsc));
    detail::g_use_tsc = true;
  } catch (...) {
    detail::g_use_tsc = false;
  }
}

void clock_refine() noexcept {
  if (!detail::g_use_tsc) return;
  const std::uint64_t n = monotonic_ns();
  const std::uint64_t t = __rdtsc();
  if (n - g_base_ns < 100000000 || t <= g_base_tsc) return;
  detail::g_seconds_per_tick.store(static_cast<double>(n - g_base_ns) * 1e-9 / static_cast<double>(t - g_base_tsc),
                                   std::memory_order_relaxed);
}

std::uint64_t seconds_to_ticks(double seconds) noexcept {
  return static_cast<std::uint64_t>(seconds / detail::g_seconds_per_tick.load(std::memory_order_relaxed));
}

std::int64_t unix_nanoseconds() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000ll + ts.tv_nsec;
}

}  // namespace ferry::monitor
