// Receive requests in flight: MPI_Irecv's request handle → the communicator it receives on.
// MPI_Status names the source of a completed receive but not its communicator, so per-peer
// receive counts need this map. Linear probing with backward-shift deletion: no tombstones, no
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

  void insert(MPI_Request request, CommInfo* comm) noexcept;
  /// The communicator of a tracked receive, removing it; null for other requests.
  CommInfo* take(MPI_Request request) noexcept;
  std::size_t size() const noexcept { return count_; }
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
  std::size_t count_ = 0;
  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;  // taken only under MPI_THREAD_MULTIPLE
};

}  // namespace ferry::monitor
