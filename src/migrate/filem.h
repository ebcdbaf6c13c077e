// filem: how the images of moving ranks reach their new nodes (Open MPI's "file management"
// framework). One interface, one registry; selected by migrate.filem, resolved by the supervisor
// (auto → shared when migrate.shared_dir is set, else mpi) and named in each checkpoint plan.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "migrate/rank.h"

namespace ferry::migrate {

class Filem {
 public:
  virtual ~Filem() = default;
  /// Directory this rank writes its image under.
  virtual std::string storage(const RankContext& c) const = 0;
  /// Collective. `moves` is the plan's [[rank, node, receiver rank], ...] (same on all ranks).
  /// Leaves in `image` and `restart_node` where this rank's image is read when it starts again.
  virtual bool transfer(const RankContext& c, std::uint64_t epoch, const nlohmann::json& moves, const std::string& own,
                        std::string& image, std::string& restart_node, std::string& error) = 0;
  /// Removes what transfer() wrote for `epoch` (the checkpoint failed on some rank).
  virtual void undo(const RankContext& c, std::uint64_t epoch, const nlohmann::json& moves) noexcept = 0;
};

/// The filem named `name` ("mpi", "shared"), or null with `error` naming those that exist.
std::unique_ptr<Filem> make_filem(const std::string& name, std::string& error);

}  // namespace ferry::migrate
