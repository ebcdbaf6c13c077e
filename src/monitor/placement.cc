#include "monitor/placement.h"

#include <hwloc.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace ferry::monitor {

std::string node_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

Placement::Placement() : node_(node_name()) {}

void Placement::load() noexcept {
  if (ready_.load(std::memory_order_acquire)) return;
  try {
    hwloc_topology_t topo = nullptr;
    if (hwloc_topology_init(&topo) != 0) return;
    // Only cores and NUMA nodes are needed: skipping caches, groups and I/O makes the load
    // about a third cheaper.
    hwloc_topology_set_all_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(topo, HWLOC_OBJ_PACKAGE, HWLOC_TYPE_FILTER_KEEP_ALL);
    hwloc_topology_set_type_filter(topo, HWLOC_OBJ_CORE, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (hwloc_topology_load(topo) != 0) {
      hwloc_topology_destroy(topo);
      return;
    }
    cores_ = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    const int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    for (int i = 0; i < pus; ++i) {
      hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, static_cast<unsigned>(i));
      if (pu == nullptr) continue;
      Location loc;
      if (hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu)) loc.core = static_cast<int>(core->logical_index);
      // hwloc 2 hangs NUMA nodes beside the CPU tree: the one whose cpuset holds the PU is ours.
      for (hwloc_obj_t numa = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, nullptr); numa != nullptr;
           numa = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, numa)) {
        if (hwloc_bitmap_isset(numa->cpuset, pu->os_index)) {
          loc.numa = static_cast<int>(numa->logical_index);
          break;
        }
      }
      if (by_cpu_.size() <= pu->os_index) by_cpu_.resize(pu->os_index + 1);
      by_cpu_[pu->os_index] = loc;
    }
    hwloc_topology_destroy(topo);
    ready_.store(true, std::memory_order_release);
  } catch (...) {
  }
}

Placement::Location Placement::of_cpu(int cpu) const noexcept {
  if (!ready_.load(std::memory_order_acquire) || cpu < 0 || static_cast<std::size_t>(cpu) >= by_cpu_.size()) return {};
  return by_cpu_[static_cast<std::size_t>(cpu)];
}

Placement::Location Placement::here() const noexcept { return of_cpu(sched_getcpu()); }

Placement::Location Placement::of_thread(pid_t tid) const noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return {};
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Field 39 ("processor") counts from after the command name, which may contain spaces.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return {};
  int field = 2;
  for (; *p != '\0' && field < 39; ++p)
    if (*p == ' ') ++field;
  return of_cpu(std::atoi(p));
}

}  // namespace ferry::monitor
