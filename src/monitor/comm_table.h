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
#include <unordered_map>
#include <vector>

#include "monitor/counters.h"

namespace ferry::monitor {

/// One communicator: its size (remote group's for an intercommunicator), who its members are,
/// an identity that other ranks and later runs agree on, and per-peer counts.
struct CommInfo {
  MPI_Comm comm = MPI_COMM_NULL;
  std::uint32_t id = 0;        ///< registration order in this process: 0 = MPI_COMM_WORLD, 1 = MPI_COMM_SELF, ...
  int size = 0;
  bool freed = false;
  bool inter = false;          ///< an intercommunicator: peers are ranks of the remote group
  /// MPI_COMM_WORLD rank of each peer, by its rank in `comm` (the remote group's for an
  /// intercommunicator); `size` entries. MPI_UNDEFINED for a peer outside MPI_COMM_WORLD
  /// (spawned or connected processes).
  std::vector<int> world;
  int my_rank = -1;            ///< this process's rank in `comm`; -1 for an intercommunicator
  /// Equal on every member and in every run of a deterministic program (see comm_uid()); what
  /// drained messages and checkpoint images name the communicator by. Never 0.
  std::uint64_t uid = 0;
  std::unique_ptr<Counter[]> sent;      ///< messages sent to each peer
  std::unique_ptr<Counter[]> received;  ///< messages received from each peer

  void count_sent(int peer) noexcept {
    if (peer >= 0 && peer < size) sent[peer].add(1);
  }
  void count_received(int peer) noexcept {
    if (peer >= 0 && peer < size) received[peer].add(1);
  }
};

/// FNV-1a-64 of a communicator's members, as MPI_COMM_WORLD ranks in communicator-rank order.
/// For an intercommunicator pass both groups (`local` empty for an intracommunicator); the two
/// are hashed in a fixed order (the group whose first world rank is lower first), so both sides
/// get the same value.
std::uint64_t comm_group_hash(const std::vector<int>& world, const std::vector<int>& local = {}) noexcept;
/// The uid of the `occurrence`-th communicator (0-based, counting freed ones) registered in this
/// process with group hash `group_hash`. Members create communicators over the same group in the
/// same order, so they agree on `occurrence`; a rerun of the program creates them again in that
/// order. Never 0.
std::uint64_t comm_uid(std::uint64_t group_hash, std::uint32_t occurrence) noexcept;

class CommTable {
 public:
  CommTable();
  ~CommTable();
  CommTable(const CommTable&) = delete;
  CommTable& operator=(const CommTable&) = delete;

  /// The record for `comm`, registering it on first sight (communicators made by functions ferry
  /// does not wrap). Null for MPI_COMM_NULL or a handle MPI rejects.
  CommInfo* find(MPI_Comm comm) noexcept {
    if (CommInfo* c = lookup(comm)) return c;
    return add(comm);
  }

  /// Registers a communicator just created by the application. Asks MPI for its groups (a few
  /// calls, O(size)); only here, never in find()'s fast path.
  CommInfo* add(MPI_Comm comm) noexcept;
  /// The live (not freed) communicator with this uid, or null. Locks; for the checkpoint's drain
  /// and the delivery of drained messages, not for every call.
  CommInfo* by_uid(std::uint64_t uid) noexcept;
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
  /// The live record for `comm` in the current snapshot, or null; never registers.
  CommInfo* lookup(MPI_Comm comm) const noexcept {
    const Snapshot* s = current_.load(std::memory_order_acquire);
    if (s == nullptr) return nullptr;
    const std::size_t mask = s->slots.size() - 1;
    for (std::size_t i = hash(comm) & mask;; i = (i + 1) & mask) {
      CommInfo* c = s->slots[i];
      if (c == nullptr) return nullptr;
      if (c->comm == comm) return c;
    }
  }
  void publish_locked();

  std::atomic<const Snapshot*> current_{nullptr};
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<CommInfo>> infos_;   // every record ever made, creation order
  std::vector<std::unique_ptr<Snapshot>> snapshots_;  // current and retired
  std::unordered_map<std::uint64_t, std::uint32_t> occurrences_;  // group hash -> registered so far
};

}  // namespace ferry::monitor
