// Exposition formats. Values are read from atomics without any lock held; only the pointer copies
// in Registry::families() and Family::snapshot() lock, so a slow scraper never blocks updaters.
#include "exporters/exposition.h"

#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ferry::exporters {
namespace {

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  // Whole numbers below 2^53 print as integers: counters of events and bytes read naturally and
  // never switch to exponent form (to_chars would print 1e+06 for a million).
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(value));
    out.append(buf, end);
    return;
  }
  // Shortest round-trip form; Prometheus parses exponents such as 1e-05 fine.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void append_uint(std::string& out, std::uint64_t value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

void append_label_value(std::string& out, std::string_view value) {
  // Almost no value needs escaping; copy those in one go.
  if (value.find_first_of("\\\"\n") == std::string_view::npos) {
    out += value;
    return;
  }
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

// Text 0.0.4 escapes only backslash and newline in HELP; OpenMetrics also escapes the quote.
void append_help(std::string& out, std::string_view help, bool escape_quote) {
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && escape_quote) out += "\\\"";
    else out += c;
  }
}

// `{a="1",b="2"}` plus an optional trailing `le` pair; nothing at all for an empty label set.
void append_labels(std::string& out, const Labels& labels, const char* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const Labels& labels, double value) {
  out += name;
  out += suffix;
  append_labels(out, labels);
  out += ' ';
  append_value(out, value);
  out += '\n';
}

void append_histogram(std::string& out, std::string_view name, const Labels& labels,
                      const Histogram& histogram) {
  const Histogram::Snapshot snap = histogram.snapshot();
  std::string le;
  for (std::size_t i = 0; i <= snap.bounds.size(); ++i) {
    le.clear();
    if (i < snap.bounds.size()) append_value(le, snap.bounds[i]);
    else le = "+Inf";
    out += name;
    out += "_bucket";
    append_labels(out, labels, le.c_str());
    out += ' ';
    append_uint(out, snap.cumulative[i]);
    out += '\n';
  }
  append_sample(out, name, "_sum", labels, snap.sum);
  out += name;
  out += "_count";
  append_labels(out, labels);
  out += ' ';
  append_uint(out, snap.count);
  out += '\n';
}

void append_header(std::string& out, std::string_view name, const std::string& help,
                   const char* type, bool openmetrics) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_help(out, help, openmetrics);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// Size of the previous rendering: reserving it up front avoids ~20 reallocations of a multi-MB
// string at 10k ranks. Racy updates are harmless, it is only a hint.
std::atomic<std::size_t> last_size_hint{0};

std::string render_impl(const Registry& registry, bool openmetrics) {
  std::string out;
  out.reserve(last_size_hint.load(std::memory_order_relaxed) + 4096);
  for (const auto& base : registry.families()) {
    const std::string& name = base->name();
    switch (base->type()) {
      case MetricType::counter: {
        const auto entries = static_cast<const Family<Counter>&>(*base).snapshot();
        if (entries.empty()) break;
        // OpenMetrics names the family without `_total` and keeps the suffix on the sample.
        std::string_view family_name = name;
        if (openmetrics) family_name.remove_suffix(6);
        append_header(out, family_name, base->help(), "counter", openmetrics);
        for (const auto& e : entries) append_sample(out, name, "", e->labels, e->metric.value());
        break;
      }
      case MetricType::gauge: {
        const auto entries = static_cast<const Family<Gauge>&>(*base).snapshot();
        if (entries.empty()) break;
        append_header(out, name, base->help(), "gauge", openmetrics);
        for (const auto& e : entries) append_sample(out, name, "", e->labels, e->metric.value());
        break;
      }
      case MetricType::histogram: {
        const auto entries = static_cast<const Family<Histogram>&>(*base).snapshot();
        if (entries.empty()) break;
        append_header(out, name, base->help(), "histogram", openmetrics);
        for (const auto& e : entries) append_histogram(out, name, e->labels, e->metric);
        break;
      }
    }
  }
  if (openmetrics) out += "# EOF\n";
  last_size_hint.store(out.size(), std::memory_order_relaxed);
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// A media range refuses the type only with an explicit q=0 (RFC 9110 §12.4.2).
bool has_zero_quality(std::string_view params) noexcept {
  while (!params.empty()) {
    const auto semi = params.find(';');
    std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      double q = 1.0;
      std::string_view digits = param.substr(2);
      std::from_chars(digits.data(), digits.data() + digits.size(), q);
      return q <= 0.0;
    }
  }
  return false;
}

}  // namespace

std::string text_format(const Registry& registry) { return render_impl(registry, false); }

std::string openmetrics_format(const Registry& registry) { return render_impl(registry, true); }

std::string format_value(double value) {
  std::string out;
  append_value(out, value);
  return out;
}

ExpositionFormat choose_format(std::string_view accept_header) noexcept {
  while (!accept_header.empty()) {
    const auto comma = accept_header.find(',');
    std::string_view range = accept_header.substr(0, comma);
    accept_header =
        comma == std::string_view::npos ? std::string_view{} : accept_header.substr(comma + 1);
    const auto semi = range.find(';');
    std::string_view media = trim(range.substr(0, semi));
    std::string_view params =
        semi == std::string_view::npos ? std::string_view{} : range.substr(semi + 1);
    if (iequals(media, "application/openmetrics-text") && !has_zero_quality(params)) {
      return ExpositionFormat::openmetrics_1_0_0;
    }
  }
  return ExpositionFormat::text_0_0_4;
}

std::string_view content_type(ExpositionFormat format) noexcept {
  return format == ExpositionFormat::openmetrics_1_0_0 ? openmetrics_content_type
                                                       : text_content_type;
}

std::string render(const Registry& registry, ExpositionFormat format) {
  return format == ExpositionFormat::openmetrics_1_0_0 ? openmetrics_format(registry)
                                                       : text_format(registry);
}

}  // namespace ferry::exporters
