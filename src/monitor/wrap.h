// Shared by the PMPI wrapper files: the per-process state they update and the small helpers
// that keep each wrapper to a few lines. Internal to the monitor.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>

#include "monitor/clock.h"
#include "monitor/comm_table.h"
#include "monitor/counters.h"
#include "monitor/request_table.h"

namespace ferry::monitor::detail {

/// Set in MPI_Init when FERRY_ENABLE=1 and the config is valid; until then every wrapper is a
/// plain call of its PMPI_ twin.
extern bool g_active;
extern RankCounters g_counters;
extern CommTable g_comms;
/// Every nonblocking operation the application started through a wrapper and has not yet
/// completed (Wait/Test families) or freed: receives → their communicator, everything else →
/// not_a_receive(). Persistent requests (MPI_Send_init/Recv_init/Start, not wrapped) are not in it.
extern RequestTable g_requests;
/// Matched messages (MPI_Mprobe/Improbe) not yet received → their communicator. Message handles
/// are pointers like request handles, so the same table type serves, keyed by message_key().
extern RequestTable g_messages;
inline MPI_Request message_key(MPI_Message m) noexcept { return reinterpret_cast<MPI_Request>(m); }
/// Stand-in communicator for a tracked request that completes without a receive to count:
/// sends, nonblocking collectives, MPI_Comm_idup, and receives already counted when a drained
/// message was delivered into them. Never looked into; compared by address only.
extern CommInfo g_not_a_receive;
inline CommInfo* not_a_receive() noexcept { return &g_not_a_receive; }
/// Stand-in for a receive the application cancelled (MPI_Cancel): at completion it is counted
/// only if the cancel failed, which MPI_Test_cancelled tells.
extern CommInfo g_cancelled_receive;
inline CommInfo* cancelled_receive() noexcept { return &g_cancelled_receive; }
/// A real receive's communicator, as opposed to a stand-in or nothing.
inline bool is_receive(const CommInfo* c) noexcept {
  return c != nullptr && c != not_a_receive() && c != cancelled_receive();
}

/// Requests the application still owes a completion call (MPI_Wait/Test families or
/// MPI_Request_free): nonblocking operations in flight plus matched messages not yet received.
/// A safe point reached with any is refused.
std::size_t outstanding_requests() noexcept;

/// Tick after which the next MPI call boundary takes a sample (the sampler moves it).
extern std::atomic<std::uint64_t> g_next_sample;

/// Takes a sample at an MPI call boundary; cheap to call, never blocks.
void sample_at_boundary(std::uint64_t now) noexcept;

/// Times one intercepted call and counts it; takes a sample on the way out when one is due.
class Timed {
 public:
  explicit Timed(Fn fn) noexcept : fn_(fn), start_(ticks()) {
    g_counters.entered.store(start_, std::memory_order_relaxed);
  }
  ~Timed() {
    const std::uint64_t end = ticks();
    auto& f = g_counters.fn[static_cast<std::size_t>(fn_)];
    f.calls.add(1);
    f.ticks.add(end - start_);
    g_counters.entered.store(0, std::memory_order_relaxed);
    if (end >= g_next_sample.load(std::memory_order_relaxed)) sample_at_boundary(end);
  }
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;

 private:
  Fn fn_;
  std::uint64_t start_;
};

inline std::uint64_t payload_bytes(int count, MPI_Datatype type) noexcept {
  int size = 0;
  if (count <= 0 || PMPI_Type_size(type, &size) != MPI_SUCCESS || size <= 0) return 0;
  return static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(size);
}

/// Counts one point-to-point message sent (posted, for nonblocking sends).
inline void count_send(MPI_Comm comm, int dest, int count, MPI_Datatype type) noexcept {
  if (dest == MPI_PROC_NULL) return;
  if (CommInfo* c = g_comms.find(comm)) c->count_sent(dest);
  g_counters.messages_sent.add(1);
  g_counters.bytes_sent.add(payload_bytes(count, type));
}

/// Counts one completed receive from its status.
inline void count_receive(CommInfo* comm, const MPI_Status& status) noexcept {
  if (status.MPI_SOURCE == MPI_PROC_NULL || status.MPI_SOURCE < 0) return;
  if (comm != nullptr) comm->count_received(status.MPI_SOURCE);
  g_counters.messages_received.add(1);
  int bytes = 0;
  if (PMPI_Get_count(&status, MPI_BYTE, &bytes) == MPI_SUCCESS && bytes > 0)
    g_counters.bytes_received.add(static_cast<std::uint64_t>(bytes));
}

/// A status the wrapper can read even when the application passed MPI_STATUS_IGNORE.
class StatusSlot {
 public:
  explicit StatusSlot(MPI_Status* user) noexcept : user_(user) {}
  MPI_Status* get() noexcept { return user_ == MPI_STATUS_IGNORE ? &own_ : user_; }

 private:
  MPI_Status* user_;
  MPI_Status own_{};
};

/// Statuses and saved handles for the Wait/Test families: on the stack for the usual few
/// requests, on the heap only for long arrays.
class RequestBatch {
 public:
  /// `need_statuses` false: only the handles are kept (Waitany/Testany, whose one status is apart).
  RequestBatch(int count, const MPI_Request* requests, MPI_Status* user_statuses, bool need_statuses = true) noexcept;
  ~RequestBatch();
  RequestBatch(const RequestBatch&) = delete;
  RequestBatch& operator=(const RequestBatch&) = delete;

  MPI_Status* statuses() noexcept { return statuses_; }
  /// After a Waitall/Testall returning `rc`: retires every request MPI completed, i.e. whose
  /// handle it set to MPI_REQUEST_NULL (`after` is the application's array after the call).
  /// Persistent requests stay active and are left alone, as are requests MPI left pending.
  void completed_all(const MPI_Request* after, int rc) noexcept;
  /// After a Waitsome/Testsome returning `rc`: the same for the `outcount` requests at `indices`.
  void completed_some(const MPI_Request* after, int outcount, const int* indices, int rc) noexcept;
  /// The handle request i had before the call (MPI nulls completed ones).
  MPI_Request handle(int i) const noexcept {
    return handles_ != nullptr && i >= 0 && i < count_ ? handles_[i] : MPI_REQUEST_NULL;
  }

 private:
  static constexpr int kInline = 32;
  int count_;
  MPI_Request* handles_;
  MPI_Status* statuses_;
  bool own_handles_ = false;   // heap arrays to free
  bool own_statuses_ = false;
  MPI_Request inline_handles_[kInline];
  MPI_Status inline_statuses_[kInline];

  /// Retires request `index`, counting it with statuses()[status_pos] if it was a receive.
  void completed_at(int status_pos, int index, int rc) noexcept;
};


}  // namespace ferry::monitor::detail
