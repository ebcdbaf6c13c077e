// A committed epoch: the supervisor's record that every rank of a job wrote its image for that
// epoch, where each image is, and what is needed to start the job again from it. Written only
// after the last rank reported success, atomically; an epoch without a manifest never happened.
//
//   <migrate.dir>/<job>/epoch-<E>.json
//   node storage: <storage>/<job>/epoch-<E>/rank-<R>.img
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::migrate {

struct Manifest {
  std::string job;
  std::uint64_t epoch = 0;
  std::string created;                 ///< ISO 8601, UTC
  std::vector<std::string> command;    ///< program and arguments
  std::vector<std::string> nodes;      ///< "name:slots" of the job's nodes
  std::string filem;                   ///< how the images got where they are (mpi | shared)
  struct Rank {
    std::uint32_t rank = 0;
    std::string node;                  ///< where the rank restarts
    int slot = 0;
    std::string image;                 ///< path of its image, as seen from that node
    std::uint64_t bytes = 0;
  };
  std::vector<Rank> ranks;             ///< by rank, 0..n-1
};

/// "<dir>/<job>/epoch-<E>.json"
std::string manifest_path(const std::string& dir, const std::string& job, std::uint64_t epoch);
/// "<storage>/<job>/epoch-<E>/rank-<R>.img"
std::string image_path(const std::string& storage, const std::string& job, std::uint64_t epoch, std::uint32_t rank);

bool write_manifest(const std::string& path, const Manifest& m, std::string& error);
/// Checks every field; errors name the file and the field.
std::optional<Manifest> read_manifest(const std::string& path, std::string& error);
/// Committed epochs of `job` under `dir`, oldest first (paths of their manifests).
std::vector<std::string> list_manifests(const std::string& dir, const std::string& job);
/// The manifest CKPT names: a manifest file, or a job's checkpoint directory (its newest epoch).
std::optional<std::string> resolve_checkpoint(const std::string& ckpt, std::string& error);

}  // namespace ferry::migrate
