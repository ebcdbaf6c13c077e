// Requests in flight: request handle → the communicator a receive receives on, or a stand-in
// for requests that are not receives (sends, nonblocking collectives; see wrap.h). MPI_Status
// names the source of a completed receive but not its communicator, so per-peer receive counts
// need this map; its size is the number of requests the application has yet to complete, which a
// checkpoint needs to be zero. Linear probing with backward-shift deletion: no tombstones, no
// allocation except when the table grows.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "monitor/comm_table.h"

namespace ferry::monitor {

class RequestTable {
 public:
  RequestTable() { slots_.resize(64); }

  /// Tracks `request` with `comm` (replacing a stale entry for a reused handle). Null request or
  /// comm: ignored.
  void insert(MPI_Request request, CommInfo* comm) noexcept;
  /// What `request` was inserted with, removing it; null for requests not tracked.
  CommInfo* take(MPI_Request request) noexcept;
  /// Tracked requests; may be read from any thread.
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }
  void clear() noexcept;

 private:
  struct Slot {
    MPI_Request request = MPI_REQUEST_NULL;
    CommInfo* comm = nullptr;
  };
  static std::size_t hash(MPI_Request r) noexcept {
    auto v = reinterpret_cast<std::uintptr_t>(r);
    v *= 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(v >> 16);
  }
  void grow() noexcept;
  void lock() noexcept;
  void unlock() noexcept;

  std::vector<Slot> slots_;
  std::atomic<std::size_t> count_{0};  // written under the lock; atomic only for size()
  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;  // taken only under MPI_THREAD_MULTIPLE
};

}  // namespace ferry::monitor
