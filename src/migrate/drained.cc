#include "migrate/drained.h"

#include <mpi.h>

#include <algorithm>

namespace ferry::migrate {

DrainedMessages g_drained;

namespace {

bool matches(const DrainedMessage& m, std::uint64_t comm, int source, int tag) noexcept {
  return m.comm == comm && (source == MPI_ANY_SOURCE || m.source == source) && (tag == MPI_ANY_TAG || m.tag == tag);
}

}  // namespace

// count_ is written under the mutex after every change, so the wrappers' relaxed load sees
// "empty" only once nothing is held (or a moment after the last message left: they then look
// under the lock and find nothing, which is harmless).

void DrainedMessages::add(DrainedMessage m) {
  std::lock_guard lock(mutex_);
  held_.push_back(std::move(m));
  count_.store(held_.size(), std::memory_order_relaxed);
}

void DrainedMessages::restore(std::vector<DrainedMessage> messages) {
  std::lock_guard lock(mutex_);
  // A restart begins with nothing held: the image's messages are the whole store and the baseline.
  restored_.clear();
  for (const DrainedMessage& m : messages) ++restored_[{m.comm, m.source}];
  held_ = std::move(messages);
  count_.store(held_.size(), std::memory_order_relaxed);
}

std::optional<DrainedMessage> DrainedMessages::take(std::uint64_t comm, int source, int tag) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(held_.begin(), held_.end(),
                               [&](const DrainedMessage& m) { return matches(m, comm, source, tag); });
  if (it == held_.end()) return std::nullopt;
  std::optional<DrainedMessage> out(std::move(*it));
  held_.erase(it);  // few messages, taken front first as a rule: the shift is short
  count_.store(held_.size(), std::memory_order_relaxed);
  return out;
}

std::optional<DrainedMessages::Envelope> DrainedMessages::peek(std::uint64_t comm, int source, int tag) const {
  std::lock_guard lock(mutex_);
  for (const DrainedMessage& m : held_)
    if (matches(m, comm, source, tag)) return Envelope{m.source, m.tag, m.data.size()};
  return std::nullopt;
}

std::size_t DrainedMessages::pending_from(std::uint64_t comm, int source) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      held_.begin(), held_.end(), [&](const DrainedMessage& m) { return m.comm == comm && m.source == source; }));
}

std::size_t DrainedMessages::restored_from(std::uint64_t comm, int source) const {
  std::lock_guard lock(mutex_);
  const auto it = restored_.find({comm, source});
  return it == restored_.end() ? 0 : it->second;
}

std::vector<DrainedMessage> DrainedMessages::all() const {
  std::lock_guard lock(mutex_);
  return held_;
}

void DrainedMessages::clear() {
  std::lock_guard lock(mutex_);
  held_.clear();
  restored_.clear();
  count_.store(0, std::memory_order_relaxed);
}

}  // namespace ferry::migrate
