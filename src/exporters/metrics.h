// ferry's metrics model, shaped like prometheus-cpp (Registry -> Family -> metric) because
// prometheus-cpp is not packaged on Debian 12. Updates are lock-free so that ranks' hot paths and
// the supervisor's ingest never wait for a scrape; only registration and add/remove take locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ferry::exporters {

/// Label name -> label value. Ordered so that exposition output is deterministic.
using Labels = std::map<std::string, std::string>;

/// The Prometheus metric types ferry exposes.
enum class MetricType { counter, gauge, histogram };

/// True when `name` matches [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus metric name rule).
bool is_valid_metric_name(std::string_view name) noexcept;

/// True when `name` matches [a-zA-Z_][a-zA-Z0-9_]* and does not start with the reserved `__`.
bool is_valid_label_name(std::string_view name) noexcept;

/// A monotonically increasing value (seconds spent, bytes written, events seen).
class Counter {
 public:
  /// Adds `amount`; negative or NaN amounts are ignored so the counter never goes backwards.
  void inc(double amount = 1.0) noexcept;
  /// The current value (a relaxed snapshot).
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

/// A value that can go up and down (ranks on a node, load ratio).
class Gauge {
 public:
  /// Replaces the value.
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  /// Adds `amount` (may be negative).
  void inc(double amount = 1.0) noexcept;
  /// Subtracts `amount`.
  void dec(double amount = 1.0) noexcept { inc(-amount); }
  /// The current value (a relaxed snapshot).
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

/// Distribution of observations over fixed upper bounds, plus an implicit +Inf bucket.
class Histogram {
 public:
  /// What an exposition needs, read once so the numbers agree with each other.
  struct Snapshot {
    std::vector<double> bounds;           ///< finite upper bounds, strictly increasing
    std::vector<std::uint64_t> cumulative;  ///< bounds.size() + 1 entries, last is +Inf
    double sum = 0.0;
    std::uint64_t count = 0;  ///< equals cumulative.back()
  };

  /// `bounds` must already be validated (see Registry::histogram_family).
  explicit Histogram(std::vector<double> bounds);

  /// Records one observation; NaN lands in the +Inf bucket (it is <= no finite bound).
  void observe(double value) noexcept;
  /// Reads all buckets; the count is derived from the buckets so `_count` == `le="+Inf"`.
  Snapshot snapshot() const;
  /// The finite upper bounds this histogram was built with.
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  std::vector<double> bounds_;
  // Non-cumulative per-bucket counts; cumulated only when exposed so observe() touches one slot.
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

namespace detail {

/// One labelled metric; the labels never change after creation, so readers need no lock.
template <typename T>
struct Entry {
  template <typename... Args>
  explicit Entry(Labels l, Args&&... args) : labels(std::move(l)), metric(std::forward<Args>(args)...) {}
  const Labels labels;
  T metric;
};

/// What the registry and the exposition see of any family.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  MetricType type() const noexcept { return type_; }

 protected:
  // Throws std::invalid_argument naming the family and the bad label.
  void check_labels(const Labels& labels) const;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
};

}  // namespace detail

/// All metrics of one name, one per distinct label set.
template <typename T>
class Family : public detail::FamilyBase {
 public:
  using Entry = detail::Entry<T>;

  /// Built by Registry only; `bounds` is used by histogram families alone.
  Family(std::string name, std::string help, MetricType type, std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type), bounds_(std::move(bounds)) {}

  /// The metric for `labels`, created on first use; the same labels always give the same object.
  /// The reference stays valid until remove(labels). Invalid label names (or `le` on a histogram)
  /// are a programming error: std::invalid_argument.
  T& add(const Labels& labels);

  /// Drops the metric for `labels` (e.g. a rank that finished); false when there was none.
  /// References obtained from add() for these labels must not be used afterwards.
  bool remove(const Labels& labels);

  /// Number of label sets currently present.
  std::size_t size() const;

  /// Shared handles to every entry, sorted by labels; the family lock is held only for the copy.
  std::vector<std::shared_ptr<const Entry>> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<Labels, std::shared_ptr<Entry>> entries_;
  std::vector<double> bounds_;
};

/// The default histogram buckets of the Prometheus client libraries, in seconds.
std::vector<double> default_buckets();

/// A thread-safe set of families, keyed by metric name.
class Registry {
 public:
  /// A counter family; `name` must be valid and end in `_total`. Re-registering the same name,
  /// type and help returns the existing family; any other clash throws std::invalid_argument.
  Family<Counter>& counter_family(const std::string& name, const std::string& help);
  /// A gauge family; same rules as counter_family except the `_total` suffix (it is refused).
  Family<Gauge>& gauge_family(const std::string& name, const std::string& help);
  /// A histogram family; `buckets` must be finite and strictly increasing (a trailing +Inf is
  /// accepted and dropped, the +Inf bucket is always implicit).
  Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<double> buckets = default_buckets());

  /// Families sorted by name; the registry lock is held only while the pointers are copied.
  std::vector<std::shared_ptr<const detail::FamilyBase>> families() const;

 private:
  template <typename T>
  Family<T>& get_or_add(const std::string& name, const std::string& help, MetricType type,
                        std::vector<double> bounds);

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<detail::FamilyBase>> families_;
};

// ---- template implementation ----

template <typename T>
T& Family<T>::add(const Labels& labels) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(labels); it != entries_.end()) return it->second->metric;
  }
  check_labels(labels);  // outside the lock: the common path is the lookup above
  std::lock_guard lock(mutex_);
  auto& slot = entries_[labels];
  if (!slot) {
    if constexpr (std::is_same_v<T, Histogram>) {
      slot = std::make_shared<Entry>(labels, bounds_);
    } else {
      slot = std::make_shared<Entry>(labels);
    }
  }
  return slot->metric;
}

template <typename T>
bool Family<T>::remove(const Labels& labels) {
  std::lock_guard lock(mutex_);
  return entries_.erase(labels) > 0;
}

template <typename T>
std::size_t Family<T>::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

template <typename T>
std::vector<std::shared_ptr<const typename Family<T>::Entry>> Family<T>::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const Entry>> out;
  out.reserve(entries_.size());
  for (const auto& [labels, entry] : entries_) out.push_back(entry);
  return out;
}

}  // namespace ferry::exporters
