#include "monitor/comm_table.h"

#include <bit>
#include <numeric>

namespace ferry::monitor {

namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
// Between the two groups of an intercommunicator: no rank, not MPI_UNDEFINED either.
constexpr int kGroupSeparator = -1;

void fnv_add(std::uint64_t& h, int value) noexcept {
  const auto u = static_cast<std::uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8) {  // little-endian bytes, whatever the host
    h ^= (u >> shift) & 0xffu;
    h *= kFnvPrime;
  }
}

void fnv_add(std::uint64_t& h, const std::vector<int>& values) noexcept {
  for (int v : values) fnv_add(h, v);
}

// Frees a group however the function returns.
struct GroupHandle {
  MPI_Group group = MPI_GROUP_NULL;
  GroupHandle() = default;
  GroupHandle(const GroupHandle&) = delete;
  GroupHandle& operator=(const GroupHandle&) = delete;
  ~GroupHandle() {
    if (group != MPI_GROUP_NULL) PMPI_Group_free(&group);
  }
};

// World ranks of `group`'s members, in group order; MPI_UNDEFINED for a member outside
// MPI_COMM_WORLD. Empty when MPI refuses.
std::vector<int> world_ranks(MPI_Group group, MPI_Group world_group) {
  int n = 0;
  if (PMPI_Group_size(group, &n) != MPI_SUCCESS || n <= 0) return {};
  std::vector<int> ranks(static_cast<std::size_t>(n));
  std::iota(ranks.begin(), ranks.end(), 0);
  std::vector<int> out(ranks.size(), MPI_UNDEFINED);
  if (PMPI_Group_translate_ranks(group, n, ranks.data(), world_group, out.data()) != MPI_SUCCESS) return {};
  return out;
}

// Who the members of `comm` are, by world rank: `peers` are the ranks a message names (the
// remote group of an intercommunicator), `local` the local group of an intercommunicator.
void members(MPI_Comm comm, bool inter, std::vector<int>& peers, std::vector<int>& local) {
  GroupHandle world_group;
  if (PMPI_Comm_group(MPI_COMM_WORLD, &world_group.group) != MPI_SUCCESS) return;
  GroupHandle group;
  if (PMPI_Comm_group(comm, &group.group) != MPI_SUCCESS) return;
  if (!inter) {
    peers = world_ranks(group.group, world_group.group);
    return;
  }
  local = world_ranks(group.group, world_group.group);
  GroupHandle remote;
  if (PMPI_Comm_remote_group(comm, &remote.group) != MPI_SUCCESS) return;
  peers = world_ranks(remote.group, world_group.group);
}

}  // namespace

std::uint64_t comm_group_hash(const std::vector<int>& world, const std::vector<int>& local) noexcept {
  std::uint64_t h = kFnvOffset;
  if (local.empty()) {
    fnv_add(h, world);
    return h;
  }
  // Each side of an intercommunicator sees the other as remote: order the groups by content.
  const bool local_first = local < world;
  fnv_add(h, local_first ? local : world);
  fnv_add(h, kGroupSeparator);
  fnv_add(h, local_first ? world : local);
  return h;
}

std::uint64_t comm_uid(std::uint64_t group_hash, std::uint32_t occurrence) noexcept {
  // splitmix64's finalizer: every bit of hash and occurrence reaches every bit of the uid.
  std::uint64_t x = group_hash ^ (0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(occurrence) + 1));
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x == 0 ? 1 : x;  // 0 stays free to mean "no communicator"
}

CommTable::CommTable() = default;
CommTable::~CommTable() = default;

CommInfo* CommTable::add(MPI_Comm comm) noexcept {
  if (comm == MPI_COMM_NULL) return nullptr;
  try {
    if (CommInfo* known = lookup(comm)) return known;  // registered already: no MPI calls
    int inter = 0, size = 0;
    if (PMPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS) return nullptr;
    const int rc = inter ? PMPI_Comm_remote_size(comm, &size) : PMPI_Comm_size(comm, &size);
    if (rc != MPI_SUCCESS || size <= 0) return nullptr;
    int my_rank = -1;
    if (!inter && PMPI_Comm_rank(comm, &my_rank) != MPI_SUCCESS) my_rank = -1;
    // Outside the lock: MPI calls, O(size) work, once per communicator.
    std::vector<int> peers, local;
    members(comm, inter != 0, peers, local);
    const std::uint64_t group_hash = comm_group_hash(peers, local);

    std::lock_guard lock(mutex_);
    for (auto& c : infos_)  // a racing thread may have added it first
      if (c->comm == comm && !c->freed) return c.get();
    auto info = std::make_unique<CommInfo>();
    info->comm = comm;
    info->id = static_cast<std::uint32_t>(infos_.size());
    info->size = size;
    info->inter = inter != 0;
    info->world = std::move(peers);
    info->my_rank = my_rank;
    info->uid = comm_uid(group_hash, occurrences_[group_hash]++);
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

CommInfo* CommTable::by_uid(std::uint64_t uid) noexcept {
  std::lock_guard lock(mutex_);
  for (auto& c : infos_)
    if (c->uid == uid && !c->freed) return c.get();
  return nullptr;
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
  occurrences_.clear();
}

}  // namespace ferry::monitor
