// The migration state machine of a job (DESIGN §7), inside `ferry run`'s supervisor:
//
//   Requested → Running → Checkpointing → Transferring → Restarting → Finished
//                                    ↘ Failed (the job goes on; the last committed epoch stands)
//
// A request (ferry migrate / ferry checkpoint, on the control thread) becomes a checkpoint plan
// sent to every rank over its collector connection; ranks report back (collector thread); the
// supervisor's main loop commits the epoch when every rank succeeded, and — for a migration —
// relaunches the job with the new placement once the ranks have left. Every transition is an
// event with its stage duration and total, which `ferry migrate -v` prints as it happens.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "migrate/manifest.h"
#include "monitor/collector.h"
#include "supervisor/migration_plan.h"
#include "supervisor/placement.h"

namespace ferry::supervisor {

class JobMetrics;

class Orchestrator {
 public:
  struct Options {
    std::string job;
    std::vector<std::string> command;
    std::vector<NodeSlots> nodes;
    int cores = 1;
    std::string checkpoint_dir;  ///< resolved migrate.dir
    std::string filem;           ///< resolved: mpi | shared
    int keep = 2;
    double timeout = 300;
    std::uint64_t first_epoch = 1;  ///< epochs below this exist already (a restarted job)
  };

  Orchestrator(Options options, monitor::Collector& collector, std::vector<RankPlace> placement);

  // Control thread. Replies are the control socket's JSON.
  nlohmann::json request_migration(const nlohmann::json& request, const std::string& trigger = "operator");
  nlohmann::json request_checkpoint(const nlohmann::json& request);
  /// {"cmd":"migration","id":N}: the events so far and whether it is over.
  nlohmann::json progress(const nlohmann::json& request);

  // Collector thread.
  void on_control(std::uint32_t rank, const std::string& json);

  // Main loop.
  /// Sends what is unsent, and gives up on a checkpoint that took longer than the timeout.
  void tick();
  /// The job's processes ended with `status`. Returns the manifest to relaunch from when they
  /// left for a migration; nullopt when the job is over (a message says why if it died during a
  /// checkpoint).
  std::optional<std::string> on_job_exit(int status);
  /// The placement the job runs with now (changes with each migration).
  std::vector<RankPlace> placement() const;
  bool busy() const;
  /// The newest committed manifest, empty if none.
  std::string last_committed() const;

  /// Metrics of migrations and checkpoints are recorded here when set.
  void set_metrics(JobMetrics* metrics) { metrics_ = metrics; }

 private:
  enum class Stage { Idle, Checkpointing, Transferring, Leaving, Restarting };
  struct Event {
    std::string stage, detail;
    double stage_seconds = 0, total_seconds = 0;
  };
  struct Operation {
    std::uint64_t id = 0;
    std::uint64_t epoch = 0;
    bool migrate = false;
    std::string trigger;
    MigrationPlan plan;
    std::string plan_json;
    std::vector<bool> sent, written, reported, restored;
    std::vector<nlohmann::json> results;
    std::uint64_t bytes = 0;
    std::chrono::steady_clock::time_point started, last_event;
    std::vector<Event> events;
    bool over = false, failed = false;
    std::string manifest;
  };

  void event(Operation& op, const std::string& stage, const std::string& detail);
  void fail(Operation& op, const std::string& why);
  void finish(Operation& op);
  void commit(Operation& op);
  void prune();
  std::optional<nlohmann::json> begin(bool migrate, MigrationPlan plan, const std::string& trigger);
  std::size_t count(const std::vector<bool>& v) const;
  void send_pending(Operation& op);
  Operation* current();
  /// The refusal of a request while another operation is under way.
  std::optional<nlohmann::json> refuse_if_busy() const;

  Options options_;
  monitor::Collector& collector_;
  JobMetrics* metrics_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<RankPlace> placement_;
  Stage stage_ = Stage::Idle;
  std::uint64_t next_epoch_;
  std::uint64_t next_id_ = 1;
  std::vector<Operation> operations_;  // every request of this job, newest last
  std::string host_;
  std::vector<std::string> committed_;  // manifests, oldest first
};

}  // namespace ferry::supervisor
