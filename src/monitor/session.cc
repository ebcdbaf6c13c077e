#include "monitor/session.h"

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "core/config.h"
#include "core/environment.h"
#include "core/log.h"
#include "migrate/rank.h"
#include "monitor/collector.h"
#include "monitor/papi_counters.h"
#include "monitor/placement.h"
#include "monitor/report.h"
#include "monitor/sampler.h"
#include "monitor/wrap.h"

namespace ferry::monitor {

namespace detail {
bool g_active = false;
RankCounters g_counters;
CommTable g_comms;
RequestTable g_requests;
RequestTable g_messages;
std::atomic<std::uint64_t> g_next_sample{~0ull};

void sample_at_boundary(std::uint64_t now) noexcept;
}  // namespace detail

namespace {

// Everything a running session owns. Built in MPI_Init, destroyed in MPI_Finalize.
struct Session {
  core::Config config = core::Config::defaults();
  int rank = 0;
  int size = 1;
  std::string job;
  /// Started by `ferry run`, which hands every rank the job name and the collector: ferry then
  /// adds no collective to MPI_Init or MPI_Finalize. Otherwise direct mode.
  bool supervised = false;
  Placement placement;
  PapiCounters papi;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<Collector> collector;  // rank 0, direct mode
};

Session* g_session = nullptr;

constexpr int kAnnounceBytes = 4096;

// Agrees on one outcome for every rank: ferry is on everywhere or nowhere, since direct mode
// adds collectives that all ranks must make.
bool agree(bool ok, int rank, int size, int& first_failing) {
  int mine = ok ? size : rank;
  PMPI_Allreduce(&mine, &first_failing, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return first_failing == size;
}

std::string summarize_errors(const std::vector<std::string>& errors) {
  std::string s = errors.front();
  if (errors.size() > 1) s += " (and " + std::to_string(errors.size() - 1) + " more)";
  return s + "; `ferry config` lists every problem";
}

// Rank 0 picks the job name and, in direct mode, starts the collector; every rank learns both.
// Under `ferry run` the launcher already told every rank both, and no collective is needed.
void announce(Session& s, std::string& collector_address) {
  if (s.supervised) {
    s.job = core::getenv("FERRY_JOB").value_or("");
    collector_address = s.config.get_string("collector.address");
    return;
  }
  char buf[kAnnounceBytes] = {};
  if (s.rank == 0) {
    s.job = core::getenv("FERRY_JOB").value_or("job-" + node_name() + "-" + std::to_string(getpid()));
    std::string address = s.config.get_string("collector.address");
    if (address.empty()) {
      s.collector = std::make_unique<Collector>();
      std::string error;
      if (s.collector->start({}, error)) {
        address = local_addresses(s.collector->port());
      } else {
        core::log_warn(error + "; samples will not be collected");
        s.collector.reset();
      }
    }
    std::snprintf(buf, sizeof buf, "%s", s.job.c_str());
    const std::size_t at = std::strlen(buf) + 1;
    std::snprintf(buf + at, sizeof buf - at, "%s", address.c_str());
  }
  PMPI_Bcast(buf, kAnnounceBytes, MPI_CHAR, 0, MPI_COMM_WORLD);
  s.job = buf;
  collector_address = buf + std::strlen(buf) + 1;
}

// Node-local image storage: migrate.local_dir, else the node's own directory (FERRY_NODE_DIR, set
// by the simulated cluster or a site), else the checkpoint directory `ferry run` hands down.
std::string local_storage(const core::Config& config) {
  if (const auto& d = config.get_string("migrate.local_dir"); !d.empty()) return d;
  if (auto d = core::getenv("FERRY_NODE_DIR"); d && !d->empty()) return *d;
  if (const auto& d = config.get_string("migrate.dir"); !d.empty()) return d;
  return "/tmp/ferry-images-" + std::to_string(getuid());
}

void report_papi(const Session& s, const PapiCounters::StartReport& r) {
  if (s.rank != 0 || (r.skipped.empty() && r.fallback.empty())) return;
  std::string line;
  if (!r.skipped.empty()) {
    line = "PAPI events not available here, skipped:";
    for (const auto& e : r.skipped) line += " " + e;
    if (!r.reason.empty()) line += " (" + r.reason + ")";
    line += r.fallback.empty() ? "; no counter could be started" : "; counting " + r.fallback;
  } else {
    line = "counting " + r.fallback;
  }
  core::log_info(line);
}

// World point-to-point counts of every rank, gathered on rank 0 for the report.
void gather_world_counts(const Session& s, JobReport* report) {
  if (static_cast<std::uint32_t>(s.size) > kMaxMatrixRanks) return;
  const CommInfo* world = detail::g_comms.find(MPI_COMM_WORLD);
  std::vector<std::uint64_t> mine(2 * static_cast<std::size_t>(s.size), 0);
  for (int p = 0; world != nullptr && p < s.size && p < world->size; ++p) {
    mine[static_cast<std::size_t>(p)] = world->sent[p].get();
    mine[static_cast<std::size_t>(s.size + p)] = world->received[p].get();
  }
  std::vector<std::uint64_t> all(s.rank == 0 ? mine.size() * static_cast<std::size_t>(s.size) : 0);
  PMPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_UINT64_T, all.data(), static_cast<int>(mine.size()),
              MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (report == nullptr) return;
  const auto n = static_cast<std::size_t>(s.size);
  report->world_sent.assign(n, std::vector<std::uint64_t>(n));
  report->world_received.assign(n, std::vector<std::uint64_t>(n));
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t p = 0; p < n; ++p) {
      report->world_sent[r][p] = all[r * 2 * n + p];
      report->world_received[r][p] = all[r * 2 * n + n + p];
    }
}

void write_report(const Session& s, JobReport& report) {
  if (s.config.get_bool("monitor.table")) {
    const std::string table = format_table(report);
    ssize_t ignored = ::write(STDERR_FILENO, table.data(), table.size());
    (void)ignored;
  }
  const std::string& path = s.config.get_string("monitor.report");
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << to_json(report);
    if (!out.good()) {
      core::log_error("cannot write the report to " + tmp + ": " + std::strerror(errno));
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    core::log_error("cannot move the report to " + path + ": " + std::strerror(errno));
}

}  // namespace

void detail::sample_at_boundary(std::uint64_t now) noexcept {
  if (g_session != nullptr && g_session->sampler) g_session->sampler->at_boundary(now);
}

void session_start(int thread_level) noexcept {
  if (!core::enabled() || g_session != nullptr) return;
  try {
    const auto t_begin = std::chrono::steady_clock::now();
    auto s = std::make_unique<Session>();
    PMPI_Comm_rank(MPI_COMM_WORLD, &s->rank);
    PMPI_Comm_size(MPI_COMM_WORLD, &s->size);
    std::vector<std::string> errors;
    s->config = core::Config::load({}, errors);
    // Under `ferry run` (which validated the same configuration) ferry adds no collective, so a
    // rank can stay out on its own; in direct mode all ranks must agree.
    s->supervised = core::getenv("FERRY_JOB").has_value() && core::getenv("FERRY_COLLECTOR_ADDRESS").has_value();
    if (s->supervised && !errors.empty()) {
      core::log_error("disabled in rank " + std::to_string(s->rank) + ": " + summarize_errors(errors));
      return;
    }
    int first_failing = s->size;
    if (!s->supervised && !agree(errors.empty(), s->rank, s->size, first_failing)) {
      if (s->rank == first_failing) core::log_error("disabled for this job: " + summarize_errors(errors));
      return;
    }
    core::set_log_level(core::parse_level(s->config.get_string("log.level")));
    clock_init();
    detail::g_concurrent_writers = thread_level == MPI_THREAD_MULTIPLE;
    // The topology is read by the sampler thread, off the application's path (~15 ms of CPU).
    core::set_log_prefix("ferry[" + std::to_string(s->rank) + "@" + s->placement.node() + "]");

    std::string collector;
    announce(*s, collector);
    report_papi(*s, s->papi.start(s->config.get_list("monitor.papi_events")));

    Sampler::Options opt;
    opt.interval = s->config.get_double("monitor.interval");
    opt.queue_samples = static_cast<std::size_t>(s->config.get_int("monitor.queue_samples"));
    opt.collector = collector;
    opt.on_control = [](const std::string& json) { migrate::on_control(json); };
    opt.hello = core::Hello{s->job, static_cast<std::uint32_t>(s->rank), static_cast<std::uint32_t>(s->size),
                            s->placement.node(), static_cast<std::int32_t>(getpid()), s->papi.names()};
    detail::g_comms.add(MPI_COMM_WORLD);
    detail::g_comms.add(MPI_COMM_SELF);
    s->sampler = std::make_unique<Sampler>(opt, s->papi, s->placement);
    g_session = s.release();
    detail::g_active = true;
    if (!collector.empty()) g_session->sampler->start();
    migrate::RankContext context;
    context.rank = g_session->rank;
    context.size = g_session->size;
    context.job = g_session->job;
    context.node = g_session->placement.node();
    context.local_dir = local_storage(g_session->config);
    context.shared_dir = g_session->config.get_string("migrate.shared_dir");
    context.supervised = g_session->supervised;
    Sampler* sampler = g_session->sampler.get();
    context.send_control = [sampler](const std::string& json) { sampler->send_control(json); };
    migrate::attach(std::move(context));
    core::log_debug("started in " +
                    std::to_string(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_begin).count()) +
                    " ms");
  } catch (const std::exception& e) {
    detail::g_active = false;
    core::log_error(std::string("disabled: ") + e.what());
  }
}

void session_finish() noexcept {
  if (g_session == nullptr) return;
  Session& s = *g_session;
  try {
    migrate::detach();
    detail::g_active = false;
    s.sampler->finish(5.0);
    // Direct mode: every rank has sent its final sample once all are past this barrier, and rank
    // 0 reports. Under `ferry run` the supervisor reports after the job; no collective needed.
    if (!s.supervised) PMPI_Barrier(MPI_COMM_WORLD);
    std::optional<JobReport> report;
    if (s.collector) {
      s.collector->wait_finished(static_cast<std::uint32_t>(s.size), 5.0);
      report = build_report(s.job, static_cast<std::uint32_t>(s.size), s.collector->snapshot());
    }
    if (!s.supervised) gather_world_counts(s, report ? &*report : nullptr);
    if (report) write_report(s, *report);
    if (s.collector) s.collector->stop();
    s.papi.stop();
  } catch (const std::exception& e) {
    core::log_error(std::string("at MPI_Finalize: ") + e.what());
  }
  detail::g_requests.clear();
  detail::g_messages.clear();
  delete g_session;
  g_session = nullptr;
  detail::g_comms.clear();
}

}  // namespace ferry::monitor

extern "C" {

int MPI_Init(int* argc, char*** argv) {
  const int rc = PMPI_Init(argc, argv);
  if (rc == MPI_SUCCESS) ferry::monitor::session_start(MPI_THREAD_SINGLE);
  return rc;
}

int MPI_Init_thread(int* argc, char*** argv, int required, int* provided) {
  const int rc = PMPI_Init_thread(argc, argv, required, provided);
  if (rc == MPI_SUCCESS) ferry::monitor::session_start(provided ? *provided : required);
  return rc;
}

int MPI_Finalize(void) {
  ferry::monitor::session_finish();
  return PMPI_Finalize();
}

}  // extern "C"
