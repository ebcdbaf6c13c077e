// Small statistics over per-rank figures.
#pragma once

#include <span>

namespace ferry::core {

struct Summary {
  double min = 0, max = 0, mean = 0;
  std::size_t count = 0;
};

Summary summarize(std::span<const double> values) noexcept;

/// max/mean − 1: 0 for a perfectly balanced job, 1 when the slowest rank does twice the mean.
/// 0 for no values or a zero mean.
double imbalance(std::span<const double> values) noexcept;

}  // namespace ferry::core
