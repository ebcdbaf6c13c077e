#include "core/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace ferry::core {
namespace {

using Values = std::vector<double>;

TEST(Summarize, EmptyIsAllZero) {
  const Summary s = summarize(Values{});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.min, 0);
  EXPECT_EQ(s.max, 0);
  EXPECT_EQ(s.mean, 0);
}

TEST(Summarize, OneValue) {
  const Summary s = summarize(Values{3.5});
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.min, 3.5);
  EXPECT_DOUBLE_EQ(s.max, 3.5);
  EXPECT_DOUBLE_EQ(s.mean, 3.5);
}

TEST(Summarize, FindsExtremesAnywhere) {
  // Extremes neither first nor last, and a negative minimum: min must not be clamped at 0 or
  // seeded from a default.
  const Summary s = summarize(Values{3, -2, 7, 0});
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.min, -2);
  EXPECT_DOUBLE_EQ(s.max, 7);
  EXPECT_DOUBLE_EQ(s.mean, 2);
}

TEST(Summarize, AllPositiveMinIsNotZero) {
  const Summary s = summarize(Values{4, 9, 6});
  EXPECT_DOUBLE_EQ(s.min, 4);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_DOUBLE_EQ(s.mean, 19.0 / 3.0);
}

TEST(Imbalance, EmptyIsZero) { EXPECT_EQ(imbalance(Values{}), 0); }

TEST(Imbalance, OneValueIsBalanced) { EXPECT_DOUBLE_EQ(imbalance(Values{42}), 0); }

TEST(Imbalance, EqualValuesAreBalanced) { EXPECT_DOUBLE_EQ(imbalance(Values{2.5, 2.5, 2.5, 2.5}), 0); }

TEST(Imbalance, KnownExample) {
  // max 5, mean 2: 5/2 - 1.
  EXPECT_DOUBLE_EQ(imbalance(Values{1, 1, 1, 5}), 1.5);
}

TEST(Imbalance, SlowestAtTwiceTheMeanIsOne) {
  // The header's own reading of the number.
  EXPECT_DOUBLE_EQ(imbalance(Values{0, 2}), 1.0);
}

TEST(Imbalance, DoesNotDependOnOrder) {
  EXPECT_DOUBLE_EQ(imbalance(Values{5, 1, 1, 1}), imbalance(Values{1, 1, 5, 1}));
}

TEST(Imbalance, ZeroMeanIsZeroNotInfinite) {
  // Ranks that did no compute at all must not print inf or nan in the report.
  for (const Values& v : {Values{0}, Values{0, 0, 0}, Values{-1, 1}}) {
    const double x = imbalance(v);
    EXPECT_TRUE(std::isfinite(x));
    EXPECT_EQ(x, 0);
  }
}

}  // namespace
}  // namespace ferry::core
