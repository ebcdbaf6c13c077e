// The application contract of include/ferry/ferry.h: protected regions, callbacks, the safe
// point and its MPI_Pcontrol spelling. Regions are recorded whether or not ferry is enabled, so
// an application behaves the same either way; only a restore fills them.
#include <mpi.h>

#include <cstdarg>
#include <map>
#include <mutex>

#include "ferry/ferry.h"
#include "migrate/rank.h"

namespace ferry::migrate {

namespace {

struct Region {
  void* ptr = nullptr;
  std::uint64_t bytes = 0;
};

struct Contract {
  std::mutex mutex;
  std::map<int, Region> regions;
  ferry_callback on_checkpoint = nullptr;
  void* checkpoint_arg = nullptr;
  ferry_callback on_restore = nullptr;
  void* restore_arg = nullptr;
  bool restarted = false;
  bool restore_callback_done = false;
};

Contract& contract() {
  static Contract c;
  return c;
}

}  // namespace

std::vector<RegionView> protected_regions() {
  Contract& c = contract();
  std::lock_guard lock(c.mutex);
  std::vector<RegionView> out;
  out.reserve(c.regions.size());
  for (const auto& [id, r] : c.regions) out.push_back({id, r.ptr, r.bytes});
  return out;
}

void run_checkpoint_callback() noexcept {
  ferry_callback fn = nullptr;
  void* arg = nullptr;
  {
    std::lock_guard lock(contract().mutex);
    fn = contract().on_checkpoint;
    arg = contract().checkpoint_arg;
  }
  if (fn != nullptr) fn(arg);
}

void set_restarted() noexcept {
  std::lock_guard lock(contract().mutex);
  contract().restarted = true;
}

}  // namespace ferry::migrate

using ferry::migrate::contract;

extern "C" {

int ferry_protect(int id, void* ptr, size_t bytes) {
  if (id < 0 || (ptr == nullptr && bytes > 0)) return -1;
  try {
    {
      std::lock_guard lock(contract().mutex);
      contract().regions[id] = {ptr, static_cast<std::uint64_t>(bytes)};
    }
    ferry::migrate::restore_region(id, ptr, bytes);
    return 0;
  } catch (...) {
    return -1;
  }
}

int ferry_unprotect(int id) {
  std::lock_guard lock(contract().mutex);
  return contract().regions.erase(id) == 1 ? 0 : -1;
}

int ferry_restarted(void) {
  ferry_callback fn = nullptr;
  void* arg = nullptr;
  {
    std::lock_guard lock(contract().mutex);
    auto& c = contract();
    if (!c.restarted) return 0;
    if (!c.restore_callback_done) {
      c.restore_callback_done = true;
      fn = c.on_restore;
      arg = c.restore_arg;
    }
  }
  if (fn != nullptr) fn(arg);
  return 1;
}

int ferry_safe_point(void) { return ferry::migrate::safe_point(); }

int ferry_on_checkpoint(ferry_callback fn, void* arg) {
  std::lock_guard lock(contract().mutex);
  contract().on_checkpoint = fn;
  contract().checkpoint_arg = arg;
  return 0;
}

int ferry_on_restore(ferry_callback fn, void* arg) {
  std::lock_guard lock(contract().mutex);
  contract().on_restore = fn;
  contract().restore_arg = arg;
  return 0;
}

// Open MPI's MPI_Pcontrol takes (level, ...) and ignores the rest, so only the level is passed on.
int MPI_Pcontrol(const int level, ...) {
  if (level == FERRY_PCONTROL_SAFE_POINT) {
    ferry::migrate::safe_point();
    return MPI_SUCCESS;
  }
  return PMPI_Pcontrol(level);
}

}  // extern "C"
