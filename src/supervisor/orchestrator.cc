#include "supervisor/orchestrator.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "core/log.h"
#include "supervisor/registry.h"

namespace ferry::supervisor {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// A list of strings or of integers from a request, with the field named in the error.
template <class T>
bool list_field(const json& request, const char* field, std::vector<T>& out, std::string& error) {
  if (!request.contains(field)) return true;
  const json& v = request[field];
  if (!v.is_array()) {
    error = std::string("\"") + field + "\" must be a list";
    return false;
  }
  for (const auto& item : v) {
    if constexpr (std::is_same_v<T, int>) {
      if (!item.is_number_integer()) {
        error = std::string("\"") + field + "\" must list rank numbers, got " + item.dump();
        return false;
      }
    } else if (!item.is_string()) {
      error = std::string("\"") + field + "\" must list node names, got " + item.dump();
      return false;
    }
    out.push_back(item.get<T>());
  }
  return true;
}

json refusal(const std::string& why) { return {{"ok", false}, {"error", why}}; }

}  // namespace

Orchestrator::Orchestrator(Options options, monitor::Collector& collector, std::vector<RankPlace> placement)
    : options_(std::move(options)), collector_(collector), placement_(std::move(placement)) {
  next_epoch_ = options_.first_epoch;
  committed_ = migrate::list_manifests(options_.checkpoint_dir, options_.job);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  host_ = std::string(host) + ":" + std::to_string(getpid());
}

std::size_t Orchestrator::count(const std::vector<bool>& v) const {
  std::size_t n = 0;
  for (bool b : v) n += b ? 1 : 0;
  return n;
}

void Orchestrator::event(Operation& op, const std::string& stage, const std::string& detail) {
  const auto now = Clock::now();
  Event e{stage, detail, seconds_between(op.last_event, now), seconds_between(op.started, now)};
  op.last_event = now;
  op.events.push_back(e);
  char figures[64];
  std::snprintf(figures, sizeof figures, "[%7.2f / %7.2f]", e.stage_seconds, e.total_seconds);
  core::log_info("[" + host_ + "] " + figures + " " + stage + " - " + detail);
}

void Orchestrator::fail(Operation& op, const std::string& why) {
  event(op, "Failed", why);
  op.over = true;
  op.failed = true;
  stage_ = Stage::Idle;
}

void Orchestrator::finish(Operation& op) {
  op.over = true;
  stage_ = Stage::Idle;
}

std::optional<json> Orchestrator::begin(bool migrate, MigrationPlan plan, const std::string& trigger) {
  Operation op;
  op.id = next_id_++;
  op.epoch = next_epoch_++;
  op.migrate = migrate;
  op.trigger = trigger;
  op.plan = std::move(plan);
  json moves = json::array();
  for (const auto& m : op.plan.moves) moves.push_back(json::array({m.rank, m.to, m.receiver}));
  op.plan_json = json{{"op", "checkpoint"}, {"epoch", op.epoch}, {"exit", migrate}, {"filem", options_.filem},
                      {"moves", moves}}
                     .dump();
  const std::size_t n = placement_.size();
  op.sent.assign(n, false);
  op.written.assign(n, false);
  op.reported.assign(n, false);
  op.restored.assign(n, false);
  op.results.assign(n, json());
  op.started = op.last_event = Clock::now();
  stage_ = Stage::Checkpointing;
  operations_.push_back(std::move(op));
  Operation& o = operations_.back();
  event(o, "Requested", migrate ? "migrate " + describe(o.plan) : "checkpoint of " + std::to_string(n) + " ranks");
  event(o, "Running", "epoch " + std::to_string(o.epoch) + ": asking every rank to checkpoint at its next safe point");
  send_pending(o);
  return json{{"ok", true}, {"id", o.id}, {"epoch", o.epoch}};
}

std::optional<json> Orchestrator::refuse_if_busy() const {
  if (operations_.empty() || operations_.back().over) return std::nullopt;
  const Operation& op = operations_.back();
  return refusal("a migration or checkpoint is already in progress (id " + std::to_string(op.id) + ", " +
                 op.events.back().stage + "); wait for it to end");
}

Orchestrator::Operation* Orchestrator::current() {
  if (operations_.empty() || operations_.back().over) return nullptr;
  return &operations_.back();
}

// Ranks connect on their sampler's first tick: a rank not reachable yet is tried again later.
// One rank hearing is enough (the safe point's agreement tells the others), but all are told.
void Orchestrator::send_pending(Operation& op) {
  if (stage_ != Stage::Checkpointing) return;
  for (std::size_t r = 0; r < op.sent.size(); ++r)
    if (!op.sent[r] && collector_.send_control(static_cast<std::uint32_t>(r), op.plan_json)) op.sent[r] = true;
}

json Orchestrator::request_migration(const json& request, const std::string& trigger) {
  std::lock_guard lock(mutex_);
  MigrationRequest req;
  std::string error;
  if (!list_field(request, "off", req.off, error) || !list_field(request, "ranks", req.ranks, error) ||
      !list_field(request, "onto", req.onto, error))
    return refusal("migrate: " + error);
  if (auto busy = refuse_if_busy()) return *busy;
  auto plan = plan_migration(placement_, options_.nodes, req, options_.cores, error);
  if (!plan) return refusal(error);
  if (options_.filem == "mpi")
    for (const auto& m : plan->moves)
      if (m.receiver < 0)
        return refusal(m.to + " runs no rank of this job that stays, so filem mpi has no one there to hand rank " +
                       std::to_string(m.rank) + "'s image to; set migrate.shared_dir (filem shared) or move onto a "
                       "node that runs ranks");
  return *begin(true, std::move(*plan), trigger);
}

json Orchestrator::request_checkpoint(const json&) {
  std::lock_guard lock(mutex_);
  if (auto busy = refuse_if_busy()) return *busy;
  MigrationPlan plan;
  plan.placement = placement_;
  return *begin(false, std::move(plan), "operator");
}

json Orchestrator::progress(const json& request) {
  std::lock_guard lock(mutex_);
  if (!request.contains("id") || !request["id"].is_number_unsigned())
    return refusal("migration: \"id\" must be the number the request returned");
  const auto id = request["id"].get<std::uint64_t>();
  for (const auto& op : operations_) {
    if (op.id != id) continue;
    json events = json::array();
    for (const auto& e : op.events)
      events.push_back({{"stage", e.stage}, {"detail", e.detail}, {"stage_seconds", e.stage_seconds},
                        {"total_seconds", e.total_seconds}});
    return {{"ok", true}, {"id", id}, {"host", host_}, {"epoch", op.epoch}, {"events", events},
            {"over", op.over}, {"failed", op.failed}, {"manifest", op.manifest}};
  }
  return refusal("no migration with id " + std::to_string(id));
}

void Orchestrator::on_control(std::uint32_t rank, const std::string& text) {
  const json m = json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    core::log_warn("rank " + std::to_string(rank) + " sent a control message that is not JSON; ignored");
    return;
  }
  std::lock_guard lock(mutex_);
  Operation* op = current();
  const std::string what = m.value("op", "");
  if (op == nullptr || rank >= op->sent.size() || m.value("epoch", std::uint64_t{0}) != op->epoch) return;
  if (what == "started" && op->events.back().stage == "Running") {
    event(*op, "Checkpointing", "epoch " + std::to_string(op->epoch) +
                                    ": every rank is at the same safe point; draining messages in flight, writing images");
  } else if (what == "written" && !op->written[rank]) {
    op->written[rank] = true;
    op->bytes += m.value("bytes", std::uint64_t{0});
    if (count(op->written) == op->written.size() && op->migrate) {
      stage_ = Stage::Transferring;
      std::set<std::string> targets;
      for (const auto& mv : op->plan.moves) targets.insert(mv.to);
      std::string to;
      for (const auto& t : targets) to += (to.empty() ? "" : ", ") + t;
      event(*op, "Transferring", std::to_string(op->written.size()) + " images written (" + mib(op->bytes) + "); " +
                                     std::to_string(op->plan.moves.size()) + " going to " + to + " (filem " +
                                     options_.filem + ")");
    }
  } else if (what == "checkpoint" && !op->reported[rank]) {
    op->reported[rank] = true;
    op->results[rank] = m;
    if (count(op->reported) < op->reported.size()) return;
    // Every rank agreed on the outcome; the ranks that failed say why, the others say nothing.
    bool ok = true;
    std::string why;
    for (const auto& r : op->results) {
      if (r.value("ok", false)) continue;
      ok = false;
      if (why.empty()) why = r.value("error", std::string());
    }
    if (!ok) {
      fail(*op, "epoch " + std::to_string(op->epoch) + " not taken: " + (why.empty() ? "a rank failed" : why) +
                    (committed_.empty() ? "" : "; the job goes on and " + committed_.back() + " stays the last checkpoint"));
      return;
    }
    commit(*op);
  } else if (what == "restored" && stage_ == Stage::Restarting && !op->restored[rank]) {
    op->restored[rank] = true;
    if (count(op->restored) == op->restored.size()) {
      event(*op, "Finished", std::to_string(op->restored.size()) + " ranks restored from epoch " +
                                 std::to_string(op->epoch) + "; " + describe(op->plan));
      finish(*op);
    }
  }
}

void Orchestrator::commit(Operation& op) {
  migrate::Manifest m;
  m.job = options_.job;
  m.epoch = op.epoch;
  m.created = now_iso8601();
  m.command = options_.command;
  for (const auto& n : options_.nodes) m.nodes.push_back(n.name + ":" + std::to_string(n.slots));
  m.filem = options_.filem;
  for (std::size_t r = 0; r < op.results.size(); ++r) {
    const json& res = op.results[r];
    migrate::Manifest::Rank x;
    x.rank = static_cast<std::uint32_t>(r);
    x.node = op.plan.placement[r].node;
    x.slot = op.plan.placement[r].slot;
    x.image = res.value("image", std::string());
    x.bytes = res.value("bytes", std::uint64_t{0});
    m.ranks.push_back(x);
  }
  const std::string path = migrate::manifest_path(options_.checkpoint_dir, options_.job, op.epoch);
  std::string error;
  if (!migrate::write_manifest(path, m, error)) {
    fail(op, "cannot commit epoch " + std::to_string(op.epoch) + ": " + error);
    return;
  }
  op.manifest = path;
  committed_.push_back(path);
  prune();
  if (op.migrate) {
    stage_ = Stage::Leaving;
    event(op, "Restarting", "epoch " + std::to_string(op.epoch) + " committed (" + mib(op.bytes) +
                                "); the ranks leave and start again with the new placement");
  } else {
    event(op, "Finished", "epoch " + std::to_string(op.epoch) + " committed (" + mib(op.bytes) + "): " + path);
    finish(op);
  }
}

// Keeps the newest `keep` epochs: older manifests go, with the images they list.
void Orchestrator::prune() {
  while (committed_.size() > static_cast<std::size_t>(options_.keep)) {
    const std::string oldest = committed_.front();
    committed_.erase(committed_.begin());
    std::string error;
    if (auto m = migrate::read_manifest(oldest, error)) {
      for (const auto& r : m->ranks) {
        std::error_code ec;
        std::filesystem::remove(r.image, ec);
        std::filesystem::remove(std::filesystem::path(r.image).parent_path(), ec);  // only if empty
      }
    }
    std::error_code ec;
    std::filesystem::remove(oldest, ec);
  }
}

void Orchestrator::tick() {
  std::lock_guard lock(mutex_);
  Operation* op = current();
  if (op == nullptr) return;
  send_pending(*op);
  if ((stage_ == Stage::Checkpointing || stage_ == Stage::Transferring) &&
      seconds_between(op->started, Clock::now()) > options_.timeout) {
    std::string missing;
    for (std::size_t r = 0; r < op->reported.size(); ++r)
      if (!op->reported[r]) missing += (missing.empty() ? "" : ",") + std::to_string(r);
    // Ranks that pick the request up later must not act on it alone.
    const std::string cancel = json{{"op", "cancel"}, {"epoch", op->epoch}}.dump();
    for (std::size_t r = 0; r < op->sent.size(); ++r) collector_.send_control(static_cast<std::uint32_t>(r), cancel);
    fail(*op, "timed out after " + std::to_string(static_cast<int>(options_.timeout)) + " s (migrate.timeout): rank(s) " +
                  missing + " did not report; do they call ferry_safe_point() regularly?");
  }
}

std::optional<std::string> Orchestrator::on_job_exit(int status) {
  std::lock_guard lock(mutex_);
  Operation* op = current();
  if (op == nullptr) return std::nullopt;
  if (stage_ == Stage::Leaving && status == 0) {
    placement_ = op->plan.placement;
    stage_ = Stage::Restarting;
    return op->manifest;
  }
  const std::string last = committed_.empty() ? "" : committed_.back();
  fail(*op, "the job ended (exit status " + std::to_string(status) + ") during epoch " + std::to_string(op->epoch) +
                (last.empty() ? "; no epoch is committed" : "; restart it from the last committed epoch: ferry restart " + last));
  return std::nullopt;
}

std::vector<RankPlace> Orchestrator::placement() const {
  std::lock_guard lock(mutex_);
  return placement_;
}

bool Orchestrator::busy() const {
  std::lock_guard lock(mutex_);
  return stage_ != Stage::Idle;
}

std::string Orchestrator::last_committed() const {
  std::lock_guard lock(mutex_);
  return committed_.empty() ? "" : committed_.back();
}

}  // namespace ferry::supervisor
