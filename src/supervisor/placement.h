// Where each rank of a job goes: nodes and slots in, an Open MPI rankfile out. Pure functions,
// so every mapping rule is tested without launching anything.
#pragma once

#include <string>
#include <vector>

namespace ferry::supervisor {

struct NodeSlots {
  std::string name;
  int slots = 1;  ///< ranks the node takes
};

struct RankPlace {
  int rank = 0;
  std::string node;
  int slot = 0;  ///< core the rank is bound to on its node
};

enum class MapPolicy { Block, Cyclic };

/// Places `ranks` ranks on `nodes`. Slot numbers cycle through `cores_per_node` cores.
/// Returns false with `error` when the nodes have too few slots.
bool place(int ranks, const std::vector<NodeSlots>& nodes, MapPolicy policy, int cores_per_node,
           std::vector<RankPlace>& out, std::string& error);

/// "rank 0=node01 slot=0" lines.
std::string rankfile_text(const std::vector<RankPlace>& placement);
/// Parses a rankfile ("rank N=HOST slot=S", comments with #). Ranks must be 0..n-1, each once.
bool parse_rankfile(const std::string& text, std::vector<RankPlace>& out, std::string& error);
/// Parses an Open MPI hostfile ("host [slots=N] [max_slots=N]", comments with #).
bool parse_hostfile(const std::string& text, std::vector<NodeSlots>& out, std::string& error);
/// Expands a Slurm-style node list: "node[01-03,07],gpu1" → node01 node02 node03 node07 gpu1.
bool expand_nodelist(const std::string& list, std::vector<std::string>& out, std::string& error);

}  // namespace ferry::supervisor
