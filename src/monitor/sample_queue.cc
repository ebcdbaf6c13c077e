#include "monitor/sample_queue.h"

#include <bit>

namespace ferry::monitor {

SampleQueue::SampleQueue(std::size_t capacity)
    : capacity_(std::bit_ceil(std::max<std::size_t>(capacity, 2))),
      mask_(capacity_ - 1),
      slots_(std::make_unique<core::Sample[]>(capacity_)) {}

}  // namespace ferry::monitor
