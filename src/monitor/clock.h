// Cheap timestamps for the PMPI wrappers. Every intercepted call reads the clock twice, so the
// clock is the largest part of ferry's per-call cost: the TSC (~10 ns here) where it is invariant,
// CLOCK_MONOTONIC (~25 ns under kvm-clock) elsewhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <x86intrin.h>

namespace ferry::monitor {

namespace detail {
extern bool g_use_tsc;
extern std::atomic<double> g_seconds_per_tick;  // refined while the job runs
}  // namespace detail

/// Starts the clock: a 0.2 ms calibration, so MPI_Init is not held up; called once from MPI_Init.
void clock_init() noexcept;
/// Refines the tick rate against CLOCK_MONOTONIC over the whole time since clock_init; called by
/// the sampler thread, so the rate's error shrinks as the job runs (1e-2 at start, 1e-6 after a second).
void clock_refine() noexcept;

/// Monotonic ticks; convert differences with ticks_to_seconds.
inline std::uint64_t ticks() noexcept {
  if (detail::g_use_tsc) return __rdtsc();
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline double ticks_to_seconds(std::uint64_t dt) noexcept {
  return static_cast<double>(dt) * detail::g_seconds_per_tick.load(std::memory_order_relaxed);
}

/// Ticks in `seconds`, for deadlines compared on the hot path.
std::uint64_t seconds_to_ticks(double seconds) noexcept;

/// Wall-clock time now, nanoseconds since the Unix epoch (for samples).
std::int64_t unix_nanoseconds() noexcept;

}  // namespace ferry::monitor
