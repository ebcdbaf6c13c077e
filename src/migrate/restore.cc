// Restore inside MPI_Init: a job started from a checkpoint has FERRY_RESTART naming the epoch's
// manifest; each rank opens the image the manifest lists for it, loads its drained messages,
// and fills each protected region as the application protects it (straight from the file into
// the application's memory, checksummed on the way). A rank that cannot restore ends the job:
// computing on from a fresh state would give a wrong answer that looks right.
#include <mpi.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/environment.h"
#include "core/log.h"
#include "migrate/drained.h"
#include "migrate/manifest.h"
#include "migrate/rank.h"

namespace ferry::migrate {

namespace {

struct Restore {
  std::mutex mutex;
  std::unique_ptr<ImageReader> image;
  std::uint64_t epoch = 0;
  int rank = 0;
};

Restore& restore() {
  static Restore r;
  return r;
}

[[noreturn]] void give_up(int rank, const std::string& why) {
  core::log_error("rank " + std::to_string(rank) + " cannot be restored: " + why);
  PMPI_Abort(MPI_COMM_WORLD, 3);
  std::abort();
}

}  // namespace

bool restore_at_init(const RankContext& c) noexcept {
  const auto manifest_path = core::getenv("FERRY_RESTART");
  if (!manifest_path || manifest_path->empty()) return false;
  try {
    std::string error;
    const auto m = read_manifest(*manifest_path, error);
    if (!m) give_up(c.rank, error);
    if (m->ranks.size() != static_cast<std::size_t>(c.size))
      give_up(c.rank, *manifest_path + " is a checkpoint of " + std::to_string(m->ranks.size()) +
                          " ranks; this job has " + std::to_string(c.size));
    const Manifest::Rank& mine = m->ranks[static_cast<std::size_t>(c.rank)];
    auto image = std::make_unique<ImageReader>();
    if (!image->open(mine.image, error)) give_up(c.rank, error);
    const ImageIndex& index = image->index();
    if (index.rank != static_cast<std::uint32_t>(c.rank) || index.epoch != m->epoch || index.size != m->ranks.size())
      give_up(c.rank, mine.image + " holds rank " + std::to_string(index.rank) + " of epoch " +
                          std::to_string(index.epoch) + ", not rank " + std::to_string(c.rank) + " of epoch " +
                          std::to_string(m->epoch));
    std::vector<DrainedMessage> messages;
    if (!image->read_messages(messages, error)) give_up(c.rank, error);
    const std::size_t drained = messages.size();
    g_drained.restore(std::move(messages));
    {
      std::lock_guard lock(restore().mutex);
      restore().image = std::move(image);
      restore().epoch = m->epoch;
      restore().rank = c.rank;
    }
    set_restarted();
    // Regions protected before MPI_Init are filled now; the rest when protected.
    for (const RegionView& r : protected_regions()) restore_region(r.id, const_cast<void*>(r.data), r.bytes);
    core::log_debug("restored from epoch " + std::to_string(m->epoch) + " (" + mine.image + ", " +
                    std::to_string(drained) + " drained message(s))");
    if (c.send_control)
      c.send_control(nlohmann::json{{"op", "restored"}, {"epoch", m->epoch}, {"rank", c.rank}, {"node", c.node}}.dump());
    return true;
  } catch (const std::exception& e) {
    give_up(c.rank, e.what());
  }
}

void restore_region(int id, void* ptr, std::uint64_t bytes) noexcept {
  std::lock_guard lock(restore().mutex);
  ImageReader* image = restore().image.get();
  if (image == nullptr) return;
  const ImageIndex::Region* region = image->region(id);
  if (region == nullptr) return;  // a region the checkpoint did not have starts as the app sets it
  if (region->bytes != bytes)
    give_up(restore().rank, image->path() + ": region " + std::to_string(id) + " holds " +
                                std::to_string(region->bytes) + " bytes; the application protected " +
                                std::to_string(bytes));
  std::string error;
  if (!image->read_region(id, ptr, error)) give_up(restore().rank, error);
}

std::uint64_t restored_epoch() noexcept {
  std::lock_guard lock(restore().mutex);
  return restore().epoch;
}

}  // namespace ferry::migrate
