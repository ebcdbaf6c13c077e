// What a rank reports about itself. Values are cumulative since the rank's MPI_Init, so a lost
// sample loses resolution, never totals; rates come from differences of two samples.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::core {

/// Sent once per connection, before any sample: what does not change during a rank's life.
struct Hello {
  std::string job;
  std::uint32_t rank = 0;
  std::uint32_t size = 0;          ///< ranks in the job
  std::string node;                ///< hostname the rank runs on
  std::int32_t pid = 0;
  std::vector<std::string> papi_events;  ///< names of the papi[] values, in order
};

inline constexpr std::size_t kMaxPapiEvents = 8;

enum SampleFlags : std::uint8_t {
  kSampleFromTimer = 1,   ///< taken by the timer thread while the app stayed outside MPI
  kSampleFinal = 2,       ///< taken in MPI_Finalize: the rank's totals
};

/// One measurement of one rank. Trivially copyable: it crosses a lock-free queue.
struct Sample {
  std::uint32_t rank = 0;
  std::int32_t core = -1;          ///< hwloc logical core index, -1 unknown
  std::int32_t numa = -1;          ///< hwloc NUMA node logical index, -1 unknown
  std::uint8_t flags = 0;
  std::uint8_t papi_count = 0;
  std::uint64_t seq = 0;           ///< per-rank sequence number, from 0
  std::int64_t time_ns = 0;        ///< wall clock at the sample, ns since the Unix epoch
  double wall = 0;                 ///< seconds since MPI_Init
  double mpi = 0;                  ///< seconds spent inside MPI
  double cpu = 0;                  ///< CPU seconds the rank's thread received
  std::uint64_t calls = 0;         ///< intercepted MPI calls
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t collective_bytes = 0;  ///< this rank's contribution to collectives
  std::uint64_t rss = 0;           ///< resident set, bytes
  std::uint64_t dropped = 0;       ///< samples this rank could not queue so far
  std::array<std::int64_t, kMaxPapiEvents> papi{};

  double compute() const { return wall - mpi; }
};

}  // namespace ferry::core
