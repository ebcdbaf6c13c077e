// Which ranks a `ferry migrate` request moves, and where: a pure function over the job's
// placement and nodes, so every refusal is tested without a job. (The balancer's strategies
// decide automatic moves; this is the operator's request, checked and completed.)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "supervisor/placement.h"

namespace ferry::supervisor {

struct MigrationRequest {
  std::vector<std::string> off;    ///< -x/--off: move every rank off these nodes
  std::vector<int> ranks;          ///< -r/--ranks: move these ranks
  std::vector<std::string> onto;   ///< -t/--onto: only onto these nodes (default: any other)
};

struct Move {
  int rank = 0;
  std::string from, to;
  int slot = 0;      ///< core on the new node
  int receiver = -1; ///< a rank staying on `to` (filem mpi hands it the image), -1 if none
};

struct MigrationPlan {
  std::vector<Move> moves;
  std::vector<RankPlace> placement;  ///< the whole job after the moves
};

/// Checks `request` against the job and places each moving rank on the target node with the
/// most free slots (earliest listed on ties), on its lowest free core (< cores). Errors say
/// what is wrong and what is valid: unknown node or rank, --onto naming an evacuated node, no
/// rank to move, no room.
std::optional<MigrationPlan> plan_migration(const std::vector<RankPlace>& placement,
                                            const std::vector<NodeSlots>& nodes, const MigrationRequest& request,
                                            int cores, std::string& error);

/// "rank 2 node02→node01, rank 3 node02→node03"
std::string describe(const MigrationPlan& plan);

}  // namespace ferry::supervisor
