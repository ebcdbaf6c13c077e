#include "monitor/comm_table.h"

#include <bit>

namespace ferry::monitor {

CommTable::CommTable() = default;
CommTable::~CommTable() = default;

CommInfo* CommTable::add(MPI_Comm comm) noexcept {
  if (comm == MPI_COMM_NULL) return nullptr;
  try {
    int inter = 0, size = 0;
    if (PMPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS) return nullptr;
    const int rc = inter ? PMPI_Comm_remote_size(comm, &size) : PMPI_Comm_size(comm, &size);
    if (rc != MPI_SUCCESS || size <= 0) return nullptr;

    std::lock_guard lock(mutex_);
    for (auto& c : infos_)  // a racing thread may have added it first
      if (c->comm == comm && !c->freed) return c.get();
    auto info = std::make_unique<CommInfo>();
    info->comm = comm;
    info->id = static_cast<std::uint32_t>(infos_.size());
    info->size = size;
    info->sent = std::make_unique<Counter[]>(static_cast<std::size_t>(size));
    info->received = std::make_unique<Counter[]>(static_cast<std::size_t>(size));
    CommInfo* raw = info.get();
    infos_.push_back(std::move(info));
    publish_locked();
    return raw;
  } catch (...) {
    return nullptr;  // out of memory: the call goes on uncounted rather than failing
  }
}

void CommTable::remove(MPI_Comm comm) noexcept {
  try {
    std::lock_guard lock(mutex_);
    bool changed = false;
    for (auto& c : infos_) {
      if (c->comm == comm && !c->freed) {
        c->freed = true;
        changed = true;
      }
    }
    if (changed) publish_locked();
  } catch (...) {
  }
}

void CommTable::publish_locked() {
  std::size_t live = 0;
  for (auto& c : infos_) live += c->freed ? 0 : 1;
  auto snap = std::make_unique<Snapshot>();
  snap->slots.assign(std::bit_ceil(std::max<std::size_t>(8, live * 2)), nullptr);
  const std::size_t mask = snap->slots.size() - 1;
  for (auto& c : infos_) {
    if (c->freed) continue;
    std::size_t i = hash(c->comm) & mask;
    while (snap->slots[i] != nullptr) i = (i + 1) & mask;
    snap->slots[i] = c.get();
  }
  current_.store(snap.get(), std::memory_order_release);
  snapshots_.push_back(std::move(snap));
}

std::vector<const CommInfo*> CommTable::all() const {
  std::lock_guard lock(mutex_);
  std::vector<const CommInfo*> out;
  out.reserve(infos_.size());
  for (auto& c : infos_) out.push_back(c.get());
  return out;
}

void CommTable::clear() noexcept {
  std::lock_guard lock(mutex_);
  current_.store(nullptr, std::memory_order_release);
  snapshots_.clear();
  infos_.clear();
}

}  // namespace ferry::monitor
