#include "monitor/request_table.h"

namespace ferry::monitor {

void RequestTable::lock() noexcept {
  if (!detail::g_concurrent_writers) return;
  while (busy_.test_and_set(std::memory_order_acquire)) {
  }
}

void RequestTable::unlock() noexcept {
  if (detail::g_concurrent_writers) busy_.clear(std::memory_order_release);
}

void RequestTable::grow() noexcept {
  try {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.request == MPI_REQUEST_NULL) continue;
      std::size_t i = hash(s.request) & mask;
      while (slots_[i].request != MPI_REQUEST_NULL) i = (i + 1) & mask;
      slots_[i] = s;
    }
  } catch (...) {
    // Keep the old table; insert() then refuses new entries once it is full.
  }
}

void RequestTable::insert(MPI_Request request, CommInfo* comm) noexcept {
  if (request == MPI_REQUEST_NULL || comm == nullptr) return;
  lock();
  const std::size_t count = count_.load(std::memory_order_relaxed);
  if ((count + 1) * 2 > slots_.size()) grow();
  if (count + 1 < slots_.size()) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash(request) & mask;
    while (slots_[i].request != MPI_REQUEST_NULL && slots_[i].request != request) i = (i + 1) & mask;
    if (slots_[i].request == MPI_REQUEST_NULL) count_.store(count + 1, std::memory_order_relaxed);
    slots_[i] = Slot{request, comm};
  }
  unlock();
}

CommInfo* RequestTable::take(MPI_Request request) noexcept {
  if (request == MPI_REQUEST_NULL) return nullptr;
  lock();
  CommInfo* found = nullptr;
  if (count_.load(std::memory_order_relaxed) != 0) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash(request) & mask;
    while (slots_[i].request != MPI_REQUEST_NULL && slots_[i].request != request) i = (i + 1) & mask;
    if (slots_[i].request == request) {
      found = slots_[i].comm;
      count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
      // Backward-shift: pull later entries of the probe run into the hole.
      std::size_t hole = i;
      for (std::size_t j = (i + 1) & mask; slots_[j].request != MPI_REQUEST_NULL; j = (j + 1) & mask) {
        const std::size_t home = hash(slots_[j].request) & mask;
        const bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
          slots_[hole] = slots_[j];
          hole = j;
        }
      }
      slots_[hole] = Slot{};
    }
  }
  unlock();
  return found;
}

void RequestTable::clear() noexcept {
  lock();
  for (Slot& s : slots_) s = Slot{};
  count_.store(0, std::memory_order_relaxed);
  unlock();
}

}  // namespace ferry::monitor
