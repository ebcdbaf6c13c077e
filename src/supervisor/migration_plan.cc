#include "supervisor/migration_plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace ferry::supervisor {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::optional<MigrationPlan> plan_migration(const std::vector<RankPlace>& placement,
                                            const std::vector<NodeSlots>& nodes, const MigrationRequest& request,
                                            int cores, std::string& error) {
  std::vector<std::string> names;
  std::map<std::string, int> slots;
  for (const auto& n : nodes) {
    names.push_back(n.name);
    slots[n.name] = n.slots;
  }
  auto known = [&](const std::string& node) { return slots.count(node) == 1; };
  if (request.off.empty() == request.ranks.empty()) {
    error = "give the ranks to move either as nodes to leave (-x/--off) or as ranks (-r/--ranks)";
    return std::nullopt;
  }
  for (const auto* list : {&request.off, &request.onto})
    for (const auto& n : *list)
      if (!known(n)) {
        error = "unknown node \"" + n + "\" (this job's nodes: " + join(names) + ")";
        return std::nullopt;
      }
  const std::set<std::string> off(request.off.begin(), request.off.end());
  for (const auto& n : request.onto)
    if (off.count(n)) {
      error = "--onto names " + n + ", which -x/--off evacuates";
      return std::nullopt;
    }
  const int size = static_cast<int>(placement.size());
  std::set<int> moving;
  for (int r : request.ranks) {
    if (r < 0 || r >= size) {
      error = "rank " + std::to_string(r) + " does not exist (ranks 0-" + std::to_string(size - 1) + ")";
      return std::nullopt;
    }
    moving.insert(r);
  }
  for (const auto& p : placement)
    if (off.count(p.node)) moving.insert(p.rank);
  if (moving.empty()) {
    error = "no rank runs on " + join(request.off) + "; nothing to move";
    return std::nullopt;
  }

  MigrationPlan plan;
  plan.placement = placement;
  std::map<std::string, int> used;
  std::map<std::string, std::set<int>> cores_used;
  for (const auto& p : placement)
    if (!moving.count(p.rank)) {
      ++used[p.node];
      cores_used[p.node].insert(p.slot);
    }
  const std::vector<std::string>& targets_base = request.onto.empty() ? names : request.onto;
  for (int r : moving) {
    RankPlace& p = plan.placement[static_cast<std::size_t>(r)];
    std::string best;
    int best_free = 0;
    for (const auto& t : targets_base) {
      if (off.count(t) || t == p.node) continue;
      const int free = slots[t] - used[t];
      if (free > best_free) {
        best = t;
        best_free = free;
      }
    }
    if (best.empty()) {
      int free_total = 0;
      std::vector<std::string> considered;
      for (const auto& t : targets_base)
        if (!off.count(t)) {
          considered.push_back(t);
          free_total += std::max(0, slots[t] - used[t]);
        }
      error = "no room: " + std::to_string(moving.size()) + " rank(s) to move, " + std::to_string(free_total) +
              " free slot(s) left on " + (considered.empty() ? std::string("no node") : join(considered));
      return std::nullopt;
    }
    Move m;
    m.rank = r;
    m.from = p.node;
    m.to = best;
    int core = 0;
    while (cores_used[best].count(core) && core < cores - 1) ++core;
    m.slot = core;
    cores_used[best].insert(core);
    ++used[best];
    p.node = best;
    p.slot = core;
    plan.moves.push_back(m);
  }
  // Receivers: the lowest rank that stays where it is on each target node.
  for (auto& m : plan.moves)
    for (const auto& p : placement)
      if (p.node == m.to && !moving.count(p.rank)) {
        m.receiver = p.rank;
        break;
      }
  return plan;
}

std::string describe(const MigrationPlan& plan) {
  std::string out;
  for (const auto& m : plan.moves)
    out += (out.empty() ? "" : ", ") + ("rank " + std::to_string(m.rank) + " " + m.from + "->" + m.to);
  return out;
}

}  // namespace ferry::supervisor
