// The coordinated checkpoint, taken at a safe point (DESIGN §6):
//   1. agreement: one Allreduce of the newest epoch any rank heard of; nonzero and new means
//      every rank checkpoints here, at the same iteration, with the plan of the rank that heard;
//   2. refusal when a rank still owes a Wait for a nonblocking request;
//   3. message drain (drain.cc), image write, agreement that every rank wrote;
//   4. for a migration: the moving ranks' images to their new nodes (filem.cc), agreement again,
//      then the process leaves the job; the supervisor starts it again on its new node.
// Each step ends in an agreement, so either every rank goes on from the same checkpoint or every
// rank goes on without it: a failed checkpoint leaves the job running and the last good epoch.
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "ferry/ferry.h"
#include "migrate/drained.h"
#include "migrate/filem.h"
#include "migrate/manifest.h"
#include "migrate/rank.h"
#include "monitor/session.h"
#include "monitor/wrap.h"

namespace ferry::migrate {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct State {
  std::mutex mutex;
  bool attached = false;
  RankContext context;
  std::string plan;                       // JSON of the newest request heard
  std::atomic<std::uint64_t> pending{0};  // its epoch
  std::uint64_t done = 0;                 // newest epoch this process took part in
};

State& state() {
  static State s;
  return s;
}

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Every rank's `ok` combined; false on any rank means false on all.
bool all_ok(bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  PMPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

void report(const RankContext& c, json message) {
  message["rank"] = c.rank;
  message["node"] = c.node;
  if (c.send_control) c.send_control(message.dump());
}

// The plan of the lowest rank that heard of `epoch`, given to all.
std::string agree_on_plan(std::uint64_t epoch, int rank, int size) {
  std::string plan;
  {
    std::lock_guard lock(state().mutex);
    if (state().pending.load() == epoch) plan = state().plan;
  }
  int mine = plan.empty() ? size : rank, root = size;
  PMPI_Allreduce(&mine, &root, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  int length = static_cast<int>(plan.size());
  PMPI_Bcast(&length, 1, MPI_INT, root, MPI_COMM_WORLD);
  plan.resize(static_cast<std::size_t>(length));
  PMPI_Bcast(plan.data(), length, MPI_CHAR, root, MPI_COMM_WORLD);
  return plan;
}

// Leaves the job after a migration checkpoint: MPI_Finalize as the application would, then exit
// without running the application's code after the safe point.
[[noreturn]] void leave() {
  monitor::session_finish();
  PMPI_Finalize();
  std::fflush(nullptr);
  _exit(0);
}

int checkpoint(const RankContext& c, std::uint64_t epoch, const json& plan) {
  const auto t0 = Clock::now();
  const bool leaving = plan.value("exit", false);
  const std::string filem_name = plan.value("filem", "mpi");
  const json moves = plan.value("moves", json::array());
  json result = {{"op", "checkpoint"}, {"epoch", epoch}, {"ok", false}};
  // Every rank reports the agreed failure; the ranks where it happened also say and log why.
  auto failed = [&](bool failed_here, const std::string& why) {
    if (failed_here) core::log_error("epoch " + std::to_string(epoch) + ": " + why);
    result["error"] = failed_here ? why : "";
    report(c, result);
    return FERRY_CHECKPOINT_FAILED;
  };

  // A request the application still owes a Wait for would be lost with the process.
  struct {
    int count;
    int rank;
  } mine{static_cast<int>(monitor::detail::outstanding_requests()), c.rank}, worst{0, 0};
  PMPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, MPI_COMM_WORLD);
  if (worst.count > 0)
    return failed(c.rank == worst.rank, "rank " + std::to_string(worst.rank) + " has " + std::to_string(worst.count) +
                                            " nonblocking request(s) pending at the safe point; no checkpoint taken "
                                            "(complete them before ferry_safe_point)");

  if (c.rank == 0) report(c, {{"op", "started"}, {"epoch", epoch}});
  run_checkpoint_callback();
  std::string error;
  bool ok = drain_messages(error);
  if (!all_ok(ok)) return failed(!ok, "message drain: " + error);

  const auto filem = make_filem(filem_name, error);
  const std::string storage = filem ? filem->storage(c) : "";
  if (filem != nullptr && storage.empty())
    error = "filem " + filem_name + " has no directory to write to (migrate.shared_dir)";
  const std::string path = image_path(storage, c.job, epoch, static_cast<std::uint32_t>(c.rank));
  ImageIndex meta;
  meta.job = c.job;
  meta.epoch = epoch;
  meta.rank = static_cast<std::uint32_t>(c.rank);
  meta.size = static_cast<std::uint32_t>(c.size);
  meta.node = c.node;
  WriteStats written;
  ok = !storage.empty() && write_image(path, meta, protected_regions(), g_drained.all(), error, &written);
  if (!all_ok(ok)) {
    if (ok) ::unlink(path.c_str());  // another rank failed: this epoch will never be committed
    return failed(!ok, error);
  }
  report(c, {{"op", "written"}, {"epoch", epoch}, {"bytes", written.bytes}, {"seconds", written.seconds}});

  // Where this rank's image will be read from when it starts again.
  std::string image = path;
  std::string restart_node = c.node;
  const auto t_transfer = Clock::now();
  if (leaving) {
    ok = filem->transfer(c, epoch, moves, path, image, restart_node, error);
    if (!all_ok(ok)) {
      filem->undo(c, epoch, moves);
      ::unlink(path.c_str());
      return failed(!ok, error);
    }
  }
  result["ok"] = true;
  result["image"] = image;
  result["restart_node"] = restart_node;
  result["bytes"] = written.bytes;
  result["write_seconds"] = written.seconds;
  result["transfer_seconds"] = since(t_transfer);
  result["seconds"] = since(t0);
  report(c, result);
  if (leaving) leave();
  return FERRY_CHECKPOINTED;
}

}  // namespace

void attach(RankContext context) noexcept {
  try {
    {
      std::lock_guard lock(state().mutex);
      state().context = std::move(context);
      state().attached = true;
    }
    if (restore_at_init(state().context)) state().done = restored_epoch();
  } catch (...) {
    core::log_error("checkpoint support could not start; this job cannot be checkpointed");
  }
}

void detach() noexcept {
  std::lock_guard lock(state().mutex);
  state().attached = false;
  state().context.send_control = nullptr;
}

void on_control(const std::string& text) noexcept {
  try {
    const json j = json::parse(text);
    if (j.value("op", "") == "cancel" && j.contains("epoch") && j["epoch"].is_number_unsigned()) {
      std::lock_guard lock(state().mutex);
      if (state().pending.load() == j["epoch"].get<std::uint64_t>()) {
        state().pending.store(0);
        state().plan.clear();
      }
      return;
    }
    if (j.value("op", "") != "checkpoint" || !j.contains("epoch") || !j["epoch"].is_number_unsigned()) {
      core::log_warn("ignoring a control message that is not a checkpoint request: " + text.substr(0, 200));
      return;
    }
    std::lock_guard lock(state().mutex);
    state().plan = text;
    state().pending.store(j["epoch"].get<std::uint64_t>());
  } catch (const std::exception& e) {
    core::log_warn(std::string("ignoring a malformed control message: ") + e.what());
  }
}

int safe_point() noexcept {
  State& s = state();
  // Without a supervisor no checkpoint can be requested: the safe point costs nothing.
  if (!monitor::detail::g_active || !s.attached || !s.context.supervised) return FERRY_CONTINUED;
  try {
    std::uint64_t mine = s.pending.load(std::memory_order_relaxed), newest = 0;
    PMPI_Allreduce(&mine, &newest, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (newest <= s.done) return FERRY_CONTINUED;
    s.done = newest;
    const RankContext& c = s.context;
    const std::string plan = agree_on_plan(newest, c.rank, c.size);
    json parsed = json::parse(plan, nullptr, false);
    if (parsed.is_discarded()) parsed = json::object();
    return checkpoint(c, newest, parsed);
  } catch (const std::exception& e) {
    core::log_error(std::string("safe point: ") + e.what() + "; no checkpoint taken");
    return FERRY_CHECKPOINT_FAILED;
  }
}

}  // namespace ferry::migrate
