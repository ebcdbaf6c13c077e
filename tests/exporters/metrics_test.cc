// Metric values, histogram bucket math, label identity, name validation and concurrency.
#include "exporters/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ferry::exporters {
namespace {

TEST(Counter, IsMonotonicAndIgnoresNegativeAndNaN) {
  Counter c;
  c.inc();
  c.inc(2.5);
  c.inc(-10);
  c.inc(std::numeric_limits<double>::quiet_NaN());
  EXPECT_DOUBLE_EQ(c.value(), 3.5);
}

TEST(Gauge, SetIncDec) {
  Gauge g;
  g.set(10);
  g.inc(2);
  g.dec(5);
  g.inc();
  g.dec();
  EXPECT_DOUBLE_EQ(g.value(), 7);
  g.set(-1.5);
  EXPECT_DOUBLE_EQ(g.value(), -1.5);
}

TEST(Histogram, BucketsUseLessOrEqualAndInfCatchesTheRest) {
  Histogram h({1.0, 2.0, 5.0});
  for (double v : {0.5, 1.0, 1.5, 2.0, 4.0, 6.0, 100.0}) h.observe(v);
  const auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);  // 0.5, 1.0 (le is inclusive)
  EXPECT_EQ(s.cumulative[1], 4u);  // + 1.5, 2.0
  EXPECT_EQ(s.cumulative[2], 5u);  // + 4.0
  EXPECT_EQ(s.cumulative[3], 7u);  // + 6, 100
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 115.0);
}

TEST(Histogram, NaNGoesToInfBucket) {
  Histogram h({1.0});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 0u);
  EXPECT_EQ(s.cumulative[1], 1u);
}

TEST(Family, SameLabelsGiveSameObject) {
  Registry r;
  auto& f = r.counter_family("ferry_x_total", "x");
  Counter& a = f.add({{"rank", "1"}, {"job", "j"}});
  Counter& b = f.add({{"job", "j"}, {"rank", "1"}});
  Counter& c = f.add({{"job", "j"}, {"rank", "2"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_EQ(f.size(), 2u);
  EXPECT_TRUE(f.remove({{"job", "j"}, {"rank", "2"}}));
  EXPECT_FALSE(f.remove({{"job", "j"}, {"rank", "2"}}));
  EXPECT_EQ(f.size(), 1u);
}

TEST(Registry, SameNameTypeAndHelpReturnsSameFamily) {
  Registry r;
  auto& a = r.gauge_family("ferry_node_ranks", "ranks");
  auto& b = r.gauge_family("ferry_node_ranks", "ranks");
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(r.gauge_family("ferry_node_ranks", "other help"), std::invalid_argument);
  EXPECT_THROW(r.histogram_family("ferry_node_ranks", "ranks"), std::invalid_argument);
}

TEST(Registry, RejectsInvalidMetricNames) {
  Registry r;
  EXPECT_THROW(r.gauge_family("", "h"), std::invalid_argument);
  EXPECT_THROW(r.gauge_family("1abc", "h"), std::invalid_argument);
  EXPECT_THROW(r.gauge_family("a-b", "h"), std::invalid_argument);
  EXPECT_THROW(r.gauge_family("a b", "h"), std::invalid_argument);
  EXPECT_NO_THROW(r.gauge_family("a:b_c9", "h"));
  EXPECT_NO_THROW(r.gauge_family(":colon_first", "h"));
}

TEST(Registry, CounterMustEndInTotalAndGaugeMustNot) {
  Registry r;
  EXPECT_THROW(r.counter_family("ferry_migrations", "h"), std::invalid_argument);
  EXPECT_NO_THROW(r.counter_family("ferry_migrations_total", "h"));
  EXPECT_THROW(r.gauge_family("ferry_bytes_total", "h"), std::invalid_argument);
}

TEST(Registry, ErrorMessageNamesTheMetric) {
  Registry r;
  try {
    r.counter_family("bad-name_total", "h");
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bad-name_total"), std::string::npos);
  }
}

TEST(Family, RejectsInvalidLabelNames) {
  Registry r;
  auto& f = r.gauge_family("ferry_g", "h");
  EXPECT_THROW(f.add({{"__reserved", "v"}}), std::invalid_argument);
  EXPECT_THROW(f.add({{"a:b", "v"}}), std::invalid_argument);
  EXPECT_THROW(f.add({{"9a", "v"}}), std::invalid_argument);
  EXPECT_THROW(f.add({{"", "v"}}), std::invalid_argument);
  EXPECT_NO_THROW(f.add({{"_ok", "any \"value\"\n"}}));
  EXPECT_EQ(f.size(), 1u);
  auto& h = r.histogram_family("ferry_h_seconds", "h", {1.0});
  EXPECT_THROW(h.add({{"le", "1"}}), std::invalid_argument);
}

TEST(Registry, RejectsBadBuckets) {
  Registry r;
  EXPECT_THROW(r.histogram_family("h1", "h", {2.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(r.histogram_family("h2", "h", {1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(r.histogram_family("h3", "h", {std::nan(""), 1.0}), std::invalid_argument);
  auto& ok = r.histogram_family("h4", "h", {1.0, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(ok.add({}).bounds().size(), 1u);  // the trailing +Inf is implicit
}

TEST(Concurrency, FourThreadsIncrementExactly) {
  Registry r;
  auto& counters = r.counter_family("ferry_c_total", "h");
  auto& gauges = r.gauge_family("ferry_g", "h");
  auto& hists = r.histogram_family("ferry_h_seconds", "h", {0.5});
  constexpr int per_thread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      // add() from every thread exercises the creation race too.
      Counter& c = counters.add({{"k", "v"}});
      Gauge& g = gauges.add({{"k", "v"}});
      Histogram& h = hists.add({{"k", "v"}});
      for (int i = 0; i < per_thread; ++i) {
        c.inc();
        g.inc(2);
        g.dec();
        h.observe(i % 2 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(counters.add({{"k", "v"}}).value(), 4.0 * per_thread);
  EXPECT_DOUBLE_EQ(gauges.add({{"k", "v"}}).value(), 4.0 * per_thread);
  const auto s = hists.add({{"k", "v"}}).snapshot();
  EXPECT_EQ(s.count, 4u * per_thread);
  EXPECT_EQ(s.cumulative[0], 2u * per_thread);
  EXPECT_DOUBLE_EQ(s.sum, 4.0 * per_thread / 2 * 1.25);
}

}  // namespace
}  // namespace ferry::exporters
