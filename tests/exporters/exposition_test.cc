// Exact text of both exposition formats, escaping, value spelling and content negotiation.
#include "exporters/exposition.h"

#include <gtest/gtest.h>

#include <limits>

namespace ferry::exporters {
namespace {

// A small registry with one family of each type.
void fill(Registry& r) {
  auto& mig = r.counter_family("ferry_migrations_total", "Migrations by trigger.");
  mig.add({{"trigger", "imbalance"}, {"result", "ok"}}).inc(3);
  r.gauge_family("ferry_node_ranks", "Ranks on the node.").add({{"node", "n1"}}).set(8);
  auto& h = r.histogram_family("ferry_migration_stage_seconds", "Stage time.", {0.1, 1});
  Histogram& stage = h.add({{"stage", "drain"}});
  stage.observe(0.05);
  stage.observe(0.5);
  stage.observe(2);
}

TEST(TextFormat, ExactOutputForSmallRegistry) {
  Registry r;
  fill(r);
  EXPECT_EQ(text_format(r),
            "# HELP ferry_migration_stage_seconds Stage time.\n"
            "# TYPE ferry_migration_stage_seconds histogram\n"
            "ferry_migration_stage_seconds_bucket{stage=\"drain\",le=\"0.1\"} 1\n"
            "ferry_migration_stage_seconds_bucket{stage=\"drain\",le=\"1\"} 2\n"
            "ferry_migration_stage_seconds_bucket{stage=\"drain\",le=\"+Inf\"} 3\n"
            "ferry_migration_stage_seconds_sum{stage=\"drain\"} 2.55\n"
            "ferry_migration_stage_seconds_count{stage=\"drain\"} 3\n"
            "# HELP ferry_migrations_total Migrations by trigger.\n"
            "# TYPE ferry_migrations_total counter\n"
            "ferry_migrations_total{result=\"ok\",trigger=\"imbalance\"} 3\n"
            "# HELP ferry_node_ranks Ranks on the node.\n"
            "# TYPE ferry_node_ranks gauge\n"
            "ferry_node_ranks{node=\"n1\"} 8\n");
}

TEST(OpenMetrics, ExactOutputForSmallRegistry) {
  Registry r;
  fill(r);
  EXPECT_EQ(openmetrics_format(r),
            "# HELP ferry_migration_stage_seconds Stage time.\n"
            "# TYPE ferry_migration_stage_seconds histogram\n"
            "ferry_migration_stage_seconds_bucket{stage=\"drain\",le=\"0.1\"} 1\n"
            "ferry_migration_stage_seconds_bucket{stage=\"drain\",le=\"1\"} 2\n"
            "ferry_migration_stage_seconds_bucket{stage=\"drain\",le=\"+Inf\"} 3\n"
            "ferry_migration_stage_seconds_sum{stage=\"drain\"} 2.55\n"
            "ferry_migration_stage_seconds_count{stage=\"drain\"} 3\n"
            "# HELP ferry_migrations Migrations by trigger.\n"
            "# TYPE ferry_migrations counter\n"
            "ferry_migrations_total{result=\"ok\",trigger=\"imbalance\"} 3\n"
            "# HELP ferry_node_ranks Ranks on the node.\n"
            "# TYPE ferry_node_ranks gauge\n"
            "ferry_node_ranks{node=\"n1\"} 8\n"
            "# EOF\n");
}

TEST(TextFormat, EmptyRegistryAndEmptyFamilies) {
  Registry r;
  EXPECT_EQ(text_format(r), "");
  EXPECT_EQ(openmetrics_format(r), "# EOF\n");
  r.gauge_family("ferry_unused", "never labelled");
  EXPECT_EQ(text_format(r), "");
}

TEST(TextFormat, NoLabelsMeansNoBraces) {
  Registry r;
  r.gauge_family("ferry_build_info", "b").add({}).set(1);
  EXPECT_EQ(text_format(r), "# HELP ferry_build_info b\n# TYPE ferry_build_info gauge\nferry_build_info 1\n");
}

TEST(TextFormat, EscapesLabelValuesAndHelp) {
  Registry r;
  r.gauge_family("g", "a \\ b\nc \"q\"").add({{"l", "x\\y\"z\nw"}}).set(1);
  EXPECT_EQ(text_format(r),
            "# HELP g a \\\\ b\\nc \"q\"\n# TYPE g gauge\ng{l=\"x\\\\y\\\"z\\nw\"} 1\n");
  EXPECT_EQ(openmetrics_format(r),
            "# HELP g a \\\\ b\\nc \\\"q\\\"\n# TYPE g gauge\ng{l=\"x\\\\y\\\"z\\nw\"} 1\n# EOF\n");
}

TEST(FormatValue, SpellsNumbersAsPrometheusExpects) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(1e6), "1000000");
  EXPECT_EQ(format_value(1e15), "1000000000000000");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1.5e-7), "1.5e-07");
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(ChooseFormat, NegotiatesOnAccept) {
  EXPECT_EQ(choose_format(""), ExpositionFormat::text_0_0_4);
  EXPECT_EQ(choose_format("text/plain"), ExpositionFormat::text_0_0_4);
  EXPECT_EQ(choose_format("*/*"), ExpositionFormat::text_0_0_4);
  EXPECT_EQ(choose_format("application/openmetrics-text"), ExpositionFormat::openmetrics_1_0_0);
  // What Prometheus 2.x sends.
  EXPECT_EQ(choose_format("application/openmetrics-text;version=1.0.0,application/"
                          "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            ExpositionFormat::openmetrics_1_0_0);
  EXPECT_EQ(choose_format("text/plain, Application/OpenMetrics-Text; q=0.3"),
            ExpositionFormat::openmetrics_1_0_0);
  EXPECT_EQ(choose_format("application/openmetrics-text;q=0, text/plain"),
            ExpositionFormat::text_0_0_4);
  EXPECT_EQ(choose_format("application/openmetrics-textual"), ExpositionFormat::text_0_0_4);
}

TEST(ContentType, ExactStrings) {
  EXPECT_EQ(content_type(ExpositionFormat::text_0_0_4), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(content_type(ExpositionFormat::openmetrics_1_0_0),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

}  // namespace
}  // namespace ferry::exporters
