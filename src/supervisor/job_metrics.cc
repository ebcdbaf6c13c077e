#include "supervisor/job_metrics.h"

#include <algorithm>
#include <vector>

#include "core/log.h"
#include "core/stats.h"
#include "supervisor/status.h"

namespace ferry::supervisor {

namespace {
// A counter only goes up: add what the totals grew by since the last refresh.
void advance(exporters::Counter& c, double& last, double now) {
  if (now > last) c.inc(now - last);
  last = std::max(last, now);
}
}  // namespace

JobMetrics::JobMetrics(const JobInfo& job, monitor::Collector& collector, double window, std::int64_t rank_labels_max)
    : job_(job),
      collector_(collector),
      window_(window),
      per_rank_(static_cast<std::int64_t>(job.placement.size()) <= rank_labels_max),
      registry_(std::make_shared<exporters::Registry>()) {
  auto& r = *registry_;
  compute_ = &r.counter_family("ferry_rank_compute_seconds_total", "Wall time a rank spent outside MPI.");
  mpi_ = &r.counter_family("ferry_rank_mpi_seconds_total", "Wall time a rank spent inside MPI calls.");
  cpu_ = &r.counter_family("ferry_rank_cpu_seconds_total", "CPU time a rank's thread received.");
  load_ = &r.gauge_family("ferry_rank_load_ratio", "Share of wall time a rank computed, over the status window.");
  node_ranks_ = &r.gauge_family("ferry_node_ranks", "Ranks placed on a node.");
  node_capacity_ = &r.gauge_family("ferry_node_capacity_ratio",
                                   "CPU seconds per second a node gives its ranks, over the status window.");
  imbalance_ = &r.gauge_family("ferry_job_imbalance_ratio", "max/mean - 1 of the ranks' compute share.")
                    .add({{"job", job.id}});
  dropped_ = &r.counter_family("ferry_samples_dropped_total", "Samples the ranks could not queue or send.")
                  .add({{"job", job.id}});
  samples_ = &r.counter_family("ferry_samples_received_total", "Samples the collector received.")
                  .add({{"job", job.id}});
  r.gauge_family("ferry_build_info", "ferry's version; always 1.").add({{"version", FERRY_VERSION_STRING}}).set(1);
  std::map<std::string, int> per_node;
  for (const auto& p : job.placement) ++per_node[p.node];
  for (const auto& [node, n] : per_node) node_ranks_->add({{"job", job.id}, {"node", node}}).set(n);
}

JobMetrics::~JobMetrics() { stop(); }

void JobMetrics::refresh() noexcept {
  try {
    const auto ranks = collector_.recent(window_);
    std::map<std::string, double> capacity;
    std::vector<double> shares;
    std::uint64_t dropped = 0;
    for (const auto& [rank, r] : ranks) {
      if (r.window.empty()) continue;
      const core::Sample& s = r.window.back();
      dropped += s.dropped + r.gaps;
      const Shares w = window_shares(r.window, window_);
      const double share_compute = w.compute;
      if (w.seconds > 0) shares.push_back(w.compute);
      capacity[r.hello.node] += w.cpu;
      if (!per_rank_) continue;
      const exporters::Labels labels = {{"job", job_.id}, {"node", r.hello.node}, {"rank", std::to_string(rank)}};
      Last& last = last_[rank];
      if (last.incarnation != r.incarnation) last = Last{.incarnation = r.incarnation};
      advance(compute_->add(labels), last.compute, s.compute());
      advance(mpi_->add(labels), last.mpi, s.mpi);
      advance(cpu_->add(labels), last.cpu, s.cpu);
      load_->add(labels).set(share_compute);
    }
    for (const auto& [node, c] : capacity) node_capacity_->add({{"job", job_.id}, {"node", node}}).set(c);
    imbalance_->set(core::imbalance(shares));
    if (dropped > last_dropped_) dropped_->inc(static_cast<double>(dropped - last_dropped_));
    last_dropped_ = std::max(last_dropped_, dropped);
    const std::uint64_t received = collector_.samples_received();
    if (received > last_samples_) samples_->inc(static_cast<double>(received - last_samples_));
    last_samples_ = std::max(last_samples_, received);
  } catch (const std::exception& e) {
    core::log_warn(std::string("metrics: refresh failed: ") + e.what());
  }
}

void JobMetrics::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void JobMetrics::stop() noexcept {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JobMetrics::run() noexcept {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    refresh();
    lock.lock();
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
  }
}

}  // namespace ferry::supervisor
