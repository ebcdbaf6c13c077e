// Bounded single-producer single-consumer ring of samples: the application thread pushes, the
// sampler thread pops. Push never waits; when the ring is full the sample is dropped and counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/sample.h"

namespace ferry::monitor {

class SampleQueue {
 public:
  explicit SampleQueue(std::size_t capacity);

  bool push(const core::Sample& s) noexcept {
    const auto head = head_.load(std::memory_order_relaxed);
    const auto tail = tail_.load(std::memory_order_acquire);
    if (head - tail >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    slots_[head & mask_] = s;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  bool pop(core::Sample& out) noexcept {
    const auto tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return false;
    out = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  void count_drop() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  std::size_t mask_;
  std::unique_ptr<core::Sample[]> slots_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace ferry::monitor
