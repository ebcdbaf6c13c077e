// Communicators the application uses, each with exact per-peer message counts. These counts are
// what a coordinated checkpoint's message drain compares, so they must equal what was really
// sent and received, per communicator and peer.
//
// This is also the one place where an application's communicator handle is looked up; a later
// translation of application handles to ferry's own communicators belongs here and nowhere else.
//
// Readers never lock: the table is an immutable snapshot behind an atomic pointer, replaced as a
// whole when a communicator is created or freed (rare). Retired snapshots and CommInfo records
// live until MPI_Finalize, so a pointer taken by a reader stays valid.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "monitor/counters.h"

namespace ferry::monitor {

/// One communicator: its size (remote group's for an intercommunicator) and per-peer counts.
struct CommInfo {
  MPI_Comm comm = MPI_COMM_NULL;
  std::uint32_t id = 0;        ///< creation order: 0 = MPI_COMM_WORLD, 1 = MPI_COMM_SELF, ...
  int size = 0;
  bool freed = false;
  std::unique_ptr<Counter[]> sent;      ///< messages sent to each peer
  std::unique_ptr<Counter[]> received;  ///< messages received from each peer

  void count_sent(int peer) noexcept {
    if (peer >= 0 && peer < size) sent[peer].add(1);
  }
  void count_received(int peer) noexcept {
    if (peer >= 0 && peer < size) received[peer].add(1);
  }
};

class CommTable {
 public:
  CommTable();
  ~CommTable();
  CommTable(const CommTable&) = delete;
  CommTable& operator=(const CommTable&) = delete;

  /// The record for `comm`, registering it on first sight (communicators made by functions ferry
  /// does not wrap). Null for MPI_COMM_NULL or a handle MPI rejects.
  CommInfo* find(MPI_Comm comm) noexcept {
    const Snapshot* s = current_.load(std::memory_order_acquire);
    if (s != nullptr) {
      const std::size_t mask = s->slots.size() - 1;
      for (std::size_t i = hash(comm) & mask;; i = (i + 1) & mask) {
        CommInfo* c = s->slots[i];
        if (c == nullptr) break;
        if (c->comm == comm) return c;
      }
    }
    return add(comm);
  }

  /// Registers a communicator just created by the application.
  CommInfo* add(MPI_Comm comm) noexcept;
  /// Forgets a communicator the application is about to free; its counts are kept.
  void remove(MPI_Comm comm) noexcept;
  /// Every communicator seen, in creation order (for reports and the message drain).
  std::vector<const CommInfo*> all() const;
  /// Drops everything (MPI_Finalize).
  void clear() noexcept;

 private:
  struct Snapshot {
    std::vector<CommInfo*> slots;  // open addressing, power-of-two size, null = empty
  };
  static std::size_t hash(MPI_Comm comm) noexcept {
    auto v = reinterpret_cast<std::uintptr_t>(comm);
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(v >> 7);
  }
  void publish_locked();

  std::atomic<const Snapshot*> current_{nullptr};
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<CommInfo>> infos_;   // every record ever made, creation order
  std::vector<std::unique_ptr<Snapshot>> snapshots_;  // current and retired
};

}  // namespace ferry::monitor
