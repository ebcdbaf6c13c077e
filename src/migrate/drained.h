// Messages the checkpoint's drain received on the application's behalf, waiting to be delivered
// to it. Receive and probe wrappers look here first (one relaxed load while it is empty), so a
// drained message is always delivered before any message that arrived after it, in the order the
// drain received them — which, per sender and communicator, is the order they were sent.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "migrate/image.h"

namespace ferry::migrate {

class DrainedMessages {
 public:
  /// The wrappers' fast check.
  bool empty() const noexcept { return count_.load(std::memory_order_relaxed) == 0; }
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Appends a message received by the drain (after those already held).
  void add(DrainedMessage m);
  /// Loads the messages of a restored image; they also become the "restored" baseline below.
  void restore(std::vector<DrainedMessage> messages);

  /// Finds the first held message matching (comm, source, tag); source and tag may be
  /// MPI_ANY_SOURCE / MPI_ANY_TAG. `take` removes it, `peek` copies its envelope only.
  std::optional<DrainedMessage> take(std::uint64_t comm, int source, int tag);
  struct Envelope {
    int source = 0, tag = 0;
    std::size_t bytes = 0;
  };
  std::optional<Envelope> peek(std::uint64_t comm, int source, int tag) const;

  /// Held (undelivered) messages from `source` on `comm`.
  std::size_t pending_from(std::uint64_t comm, int source) const;
  /// Messages from `source` on `comm` loaded by restore() (delivered or not): the sender's
  /// counts restarted from zero, these were counted before the checkpoint.
  std::size_t restored_from(std::uint64_t comm, int source) const;
  /// A copy of every held message, in order (what the next image stores).
  std::vector<DrainedMessage> all() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<DrainedMessage> held_;  // in arrival order; few, short-lived
  std::map<std::pair<std::uint64_t, int>, std::size_t> restored_;
  std::atomic<std::size_t> count_{0};
};

/// The rank's drained messages (libferry).
extern DrainedMessages g_drained;

}  // namespace ferry::migrate
