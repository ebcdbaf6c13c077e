// The rank's side of checkpoint/restart, as the rest of libferry sees it: the monitor's session
// attaches it in MPI_Init and detaches it in MPI_Finalize, the sampler hands it the supervisor's
// control messages, and the contract (include/ferry/ferry.h) calls into it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "migrate/image.h"

namespace ferry::migrate {

/// What a rank knows about its job and storage, fixed at MPI_Init.
struct RankContext {
  int rank = 0;
  int size = 1;
  std::string job;
  std::string node;
  std::string local_dir;    ///< node-local image storage
  std::string shared_dir;   ///< seen by every node; may be empty
  bool supervised = false;  ///< under `ferry run`: checkpoints can be requested
  /// Sends a control message (JSON) to the supervisor; never blocks.
  std::function<void(const std::string&)> send_control;
};

/// Called by the session in MPI_Init (after the sampler exists). Restores the rank when the job
/// was started from a checkpoint (FERRY_RESTART); a restore that fails ends the job with the
/// reason (continuing would compute from a wrong state).
void attach(RankContext context) noexcept;
/// Called by the session in MPI_Finalize.
void detach() noexcept;
/// A control message from the supervisor (sampler thread).
void on_control(const std::string& json) noexcept;

/// The collective safe point (ferry_safe_point / MPI_Pcontrol).
int safe_point() noexcept;

// Contract state (contract.cc).
/// The protected regions, by id.
std::vector<RegionView> protected_regions();
/// Runs the application's before-checkpoint callback, if any.
void run_checkpoint_callback() noexcept;
/// Marks this process as restored; the first ferry_restarted() runs the restore callback.
void set_restarted() noexcept;

// Restore (restore.cc).
/// Restores this process from the checkpoint FERRY_RESTART names, if any; true when restored.
bool restore_at_init(const RankContext& context) noexcept;
/// When a restored image holds region `id`, fills `ptr` from it (sizes must match; a mismatch or
/// a damaged region ends the job with an error naming both). Called by ferry_protect.
void restore_region(int id, void* ptr, std::uint64_t bytes) noexcept;
/// The epoch this process was restored from, 0 if none.
std::uint64_t restored_epoch() noexcept;

/// Drain (drain.cc): collective over MPI_COMM_WORLD. Receives every point-to-point message sent
/// to this rank but not yet received into g_drained. False with `error` when it cannot.
bool drain_messages(std::string& error) noexcept;

}  // namespace ferry::migrate
