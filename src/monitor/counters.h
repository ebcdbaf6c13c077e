// What the PMPI wrappers count, and how. One writer (the application thread) and one reader
// (the sampler thread): plain loads and stores on relaxed atomics cost the same as ordinary
// memory operations. Only under MPI_THREAD_MULTIPLE, where several application threads write,
// do increments become atomic read-modify-writes.
#pragma once

#include <atomic>
#include <cstdint>

namespace ferry::monitor {

// Every function ferry intercepts, in the order reports list them.
#define FERRY_MPI_FUNCTIONS(X)                                                                      \
  X(Init) X(Init_thread) X(Finalize) X(Comm_rank) X(Comm_size)                                      \
  X(Send) X(Ssend) X(Bsend) X(Rsend) X(Isend) X(Issend) X(Ibsend) X(Irsend) X(Irecv) X(Recv)        \
  X(Sendrecv) X(Sendrecv_replace) X(Wait) X(Waitall) X(Waitany) X(Waitsome) X(Test) X(Testall)      \
  X(Testany) X(Testsome) X(Probe) X(Iprobe) X(Comm_dup) X(Comm_split) X(Comm_create) X(Comm_free)   \
  X(Barrier) X(Bcast) X(Gather) X(Gatherv) X(Scatter) X(Scatterv) X(Allgather) X(Allgatherv)        \
  X(Alltoall) X(Alltoallv) X(Alltoallw) X(Reduce) X(Allreduce) X(Reduce_scatter)                    \
  X(Reduce_scatter_block) X(Scan) X(Exscan) X(Ibarrier) X(Ibcast) X(Igather) X(Igatherv)            \
  X(Iscatter) X(Iscatterv) X(Iallgather) X(Iallgatherv) X(Ialltoall) X(Ialltoallv) X(Ialltoallw)    \
  X(Ireduce) X(Iallreduce) X(Ireduce_scatter) X(Ireduce_scatter_block) X(Iscan) X(Iexscan)            \
  X(Mprobe) X(Improbe) X(Mrecv) X(Imrecv) X(Request_free)

enum class Fn : std::uint16_t {
#define FERRY_X(name) name,
  FERRY_MPI_FUNCTIONS(FERRY_X)
#undef FERRY_X
  Count
};
inline constexpr std::size_t kFnCount = static_cast<std::size_t>(Fn::Count);

/// "MPI_Send" for Fn::Send.
const char* fn_name(Fn fn) noexcept;

namespace detail {
extern bool g_concurrent_writers;  ///< MPI_THREAD_MULTIPLE was granted
}

/// A counter with one writer in the common case: see the file comment.
class Counter {
 public:
  void add(std::uint64_t d) noexcept {
    if (detail::g_concurrent_writers) {
      v_.fetch_add(d, std::memory_order_relaxed);
    } else {
      v_.store(v_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
    }
  }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }
  void reset() noexcept { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct FnCounters {
  Counter calls;
  Counter ticks;  ///< time inside the call, in clock ticks
};

/// Everything one rank counts; read by the sampler without stopping the application.
struct RankCounters {
  FnCounters fn[kFnCount];
  Counter bytes_sent;
  Counter bytes_received;
  Counter messages_sent;
  Counter messages_received;
  Counter collective_bytes;  ///< this rank's contribution to collectives
  /// Tick at which the application entered its current MPI call; 0 outside MPI.
  std::atomic<std::uint64_t> entered{0};

  std::uint64_t total_calls() const noexcept;
  std::uint64_t total_ticks() const noexcept;
};

}  // namespace ferry::monitor
