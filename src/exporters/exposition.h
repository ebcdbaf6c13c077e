// Rendering a Registry as Prometheus text (0.0.4) or OpenMetrics (1.0.0), and picking between them
// from a scraper's Accept header. Pure functions: the exposer and the push client both use them.
#pragma once

#include <string>
#include <string_view>

#include "exporters/metrics.h"

namespace ferry::exporters {

/// The two wire formats a scraper can ask for.
enum class ExpositionFormat { text_0_0_4, openmetrics_1_0_0 };

/// Content-Type of the Prometheus text format.
inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";
/// Content-Type of OpenMetrics text.
inline constexpr std::string_view openmetrics_content_type =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus text format 0.0.4 of every non-empty family, sorted by name then labels.
std::string text_format(const Registry& registry);

/// OpenMetrics 1.0.0: counter families are named without `_total`, output ends with `# EOF`.
std::string openmetrics_format(const Registry& registry);

/// OpenMetrics when the Accept header lists application/openmetrics-text (with q > 0), else text.
ExpositionFormat choose_format(std::string_view accept_header) noexcept;

/// The Content-Type to send with `format`.
std::string_view content_type(ExpositionFormat format) noexcept;

/// The body for `format`.
std::string render(const Registry& registry, ExpositionFormat format);

/// A sample value as Prometheus parses it: integers without exponent, +Inf / -Inf / NaN.
std::string format_value(double value);

}  // namespace ferry::exporters
