#include "monitor/counters.h"

namespace ferry::monitor {

namespace detail {
bool g_concurrent_writers = false;
}

const char* fn_name(Fn fn) noexcept {
  static const char* const names[] = {
#define FERRY_X(name) "MPI_" #name,
      FERRY_MPI_FUNCTIONS(FERRY_X)
#undef FERRY_X
  };
  const auto i = static_cast<std::size_t>(fn);
  return i < kFnCount ? names[i] : "MPI_?";
}

std::uint64_t RankCounters::total_calls() const noexcept {
  std::uint64_t n = 0;
  for (const auto& f : fn) n += f.calls.get();
  return n;
}

std::uint64_t RankCounters::total_ticks() const noexcept {
  std::uint64_t n = 0;
  for (const auto& f : fn) n += f.ticks.get();
  return n;
}

}  // namespace ferry::monitor
