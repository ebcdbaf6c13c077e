#include "core/stats.h"

#include <algorithm>

namespace ferry::core {

Summary summarize(std::span<const double> values) noexcept {
  Summary s;
  if (values.empty()) return s;
  s.count = values.size();
  s.min = s.max = values[0];
  double sum = 0;
  for (double v : values) {
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    sum += v;
  }
  s.mean = sum / static_cast<double>(values.size());
  return s;
}

double imbalance(std::span<const double> values) noexcept {
  const Summary s = summarize(values);
  if (s.count == 0 || s.mean <= 0) return 0;
  return s.max / s.mean - 1.0;
}

}  // namespace ferry::core
