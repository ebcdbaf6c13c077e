// Metric values, name validation and the registry. See metrics.h for why updates are lock-free.
#include "exporters/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ferry::exporters {
namespace {

bool is_name_start(char c, bool allow_colon) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}

bool is_name_char(char c, bool allow_colon) noexcept {
  return is_name_start(c, allow_colon) || (c >= '0' && c <= '9');
}

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

const char* type_name(MetricType type) noexcept {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "unknown";
}

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("ferry metrics: " + what);
}

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name.front(), true)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c, true); });
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name.front(), false)) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;  // reserved for Prometheus
  return std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c, false); });
}

void Counter::inc(double amount) noexcept {
  // `!(amount >= 0)` also rejects NaN, which would otherwise poison the counter for good.
  if (!(amount >= 0.0)) return;
  value_.fetch_add(amount, std::memory_order_relaxed);
}

void Gauge::inc(double amount) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double value) noexcept {
  // lower_bound finds the first bound >= value, i.e. the bucket whose `le` admits it; NaN compares
  // false with everything, so it is routed to +Inf explicitly rather than into the first bucket.
  std::size_t index = bounds_.size();
  if (!std::isnan(value)) {
    index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                     bounds_.begin());
  }
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.bounds = bounds_;
  snap.cumulative.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snap.cumulative[i] = running;
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

namespace detail {

void FamilyBase::check_labels(const Labels& labels) const {
  for (const auto& [label, value] : labels) {
    if (!is_valid_label_name(label)) {
      fail("invalid label name '" + label + "' on metric '" + name_ +
           "' (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__')");
    }
    if (type_ == MetricType::histogram && label == "le") {
      fail("label 'le' is reserved for histogram buckets on metric '" + name_ + "'");
    }
  }
}

}  // namespace detail

std::vector<double> default_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help) {
  if (!ends_with(name, "_total")) {
    fail("counter '" + name + "' must end in '_total' (Prometheus naming, DESIGN §9)");
  }
  return get_or_add<Counter>(name, help, MetricType::counter, {});
}

Family<Gauge>& Registry::gauge_family(const std::string& name, const std::string& help) {
  if (ends_with(name, "_total")) {
    fail("gauge '" + name + "' must not end in '_total' (reserved for counters)");
  }
  return get_or_add<Gauge>(name, help, MetricType::gauge, {});
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<double> buckets) {
  if (!buckets.empty() && std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i])) {
      fail("histogram '" + name + "' has a non-finite bucket bound (only a trailing +Inf is allowed)");
    }
    if (i > 0 && !(buckets[i] > buckets[i - 1])) {
      fail("histogram '" + name + "' bucket bounds must be strictly increasing");
    }
  }
  return get_or_add<Histogram>(name, help, MetricType::histogram, std::move(buckets));
}

template <typename T>
Family<T>& Registry::get_or_add(const std::string& name, const std::string& help, MetricType type,
                                std::vector<double> bounds) {
  if (!is_valid_metric_name(name)) {
    fail("invalid metric name '" + name + "' (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<Family<T>*>(it->second.get());
    if (existing == nullptr || existing->type() != type || existing->help() != help) {
      fail("metric '" + name + "' is already registered as a " + type_name(it->second->type()) +
           " with different type or help; register each name once");
    }
    return *existing;
  }
  auto family = std::make_shared<Family<T>>(name, help, type, std::move(bounds));
  Family<T>& ref = *family;
  families_.emplace(name, std::move(family));
  return ref;
}

std::vector<std::shared_ptr<const detail::FamilyBase>> Registry::families() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const detail::FamilyBase>> out;
  out.reserve(families_.size());
  for (const auto& [name, family] : families_) out.push_back(family);
  return out;
}

}  // namespace ferry::exporters
