#include "monitor/report.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace ferry::monitor {
namespace {

using Records = std::map<std::uint32_t, RankRecord>;

core::Sample sample(double wall, double mpi, double cpu) {
  core::Sample s;
  s.wall = wall;
  s.mpi = mpi;
  s.cpu = cpu;
  return s;
}

// Three ranks of a four-rank job: 0 finished, 1 still running (no final sample), 2 connected but
// never sampled, 3 never heard from.
Records job_records() {
  Records r;

  RankRecord& r0 = r[0];
  r0.hello.node = "node-a";
  r0.hello.papi_events = {"PAPI_TOT_INS", "PAPI_TOT_CYC"};
  // An early sample first: the report must use the latest one, not the first.
  r0.window.push_back(sample(1, 0.5, 0.9));
  core::Sample last = sample(10, 4, 8);  // compute 6
  last.rank = 0;
  last.core = 3;
  last.numa = 1;
  last.calls = 1234;
  last.messages_sent = 11;
  last.messages_received = 12;
  last.bytes_sent = (1ull << 60) + 1;  // above 2^53: must survive JSON as an exact integer
  last.bytes_received = 4096;
  last.collective_bytes = 777;
  last.dropped = 2;
  last.papi_count = 2;
  last.papi = {100, -5, 999, 999, 999, 999, 999, 999};  // values past papi_count are not reported
  last.flags = core::kSampleFinal;
  r0.window.push_back(last);
  r0.samples = 41;
  r0.finished = true;

  RankRecord& r1 = r[1];
  r1.hello.node = "node-b";
  r1.hello.papi_events = {"PAPI_TOT_INS", "PAPI_TOT_CYC"};
  core::Sample s1 = sample(10, 2, 5);  // compute 8
  s1.rank = 1;
  s1.core = 0;
  s1.papi_count = 2;
  s1.papi[0] = 7;
  s1.papi[1] = 8;
  r1.window.push_back(s1);
  r1.samples = 40;
  r1.finished = false;

  RankRecord& r2 = r[2];
  r2.hello.node = "node-c";
  r2.connected = true;
  return r;
}

// compute = {6, 8}: mean 7, max 8.
constexpr double kImbalance = 8.0 / 7.0 - 1.0;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(BuildReport, RowsCarryTheLatestSample) {
  const JobReport rep = build_report("cfd", 4, job_records());
  EXPECT_EQ(rep.job, "cfd");
  EXPECT_EQ(rep.ranks_expected, 4u);
  EXPECT_EQ(rep.papi_events, (std::vector<std::string>{"PAPI_TOT_INS", "PAPI_TOT_CYC"}));
  ASSERT_EQ(rep.ranks.size(), 2u);

  const RankRow& a = rep.ranks[0];
  EXPECT_EQ(a.rank, 0u);
  EXPECT_EQ(a.node, "node-a");
  EXPECT_EQ(a.core, 3);
  EXPECT_EQ(a.numa, 1);
  EXPECT_DOUBLE_EQ(a.wall, 10);
  EXPECT_DOUBLE_EQ(a.mpi, 4);
  EXPECT_DOUBLE_EQ(a.compute, 6);  // wall - mpi
  EXPECT_DOUBLE_EQ(a.cpu, 8);
  EXPECT_DOUBLE_EQ(a.cpu_share, 0.8);  // cpu / wall
  EXPECT_EQ(a.calls, 1234u);
  EXPECT_EQ(a.messages_sent, 11u);
  EXPECT_EQ(a.messages_received, 12u);
  EXPECT_EQ(a.bytes_sent, (1ull << 60) + 1);
  EXPECT_EQ(a.bytes_received, 4096u);
  EXPECT_EQ(a.collective_bytes, 777u);
  EXPECT_EQ(a.samples, 41u);
  EXPECT_EQ(a.dropped, 2u);
  EXPECT_EQ(a.papi, (std::vector<std::int64_t>{100, -5}));
  EXPECT_TRUE(a.complete);

  const RankRow& b = rep.ranks[1];
  EXPECT_EQ(b.rank, 1u);
  EXPECT_EQ(b.node, "node-b");
  EXPECT_DOUBLE_EQ(b.compute, 8);
  EXPECT_DOUBLE_EQ(b.cpu_share, 0.5);
  EXPECT_EQ(b.papi, (std::vector<std::int64_t>{7, 8}));
  EXPECT_FALSE(b.complete);

  EXPECT_NEAR(rep.imbalance, kImbalance, 1e-12);
  EXPECT_TRUE(rep.world_sent.empty());
}

TEST(BuildReport, RankWithoutSamplesIsLeftOut) {
  const JobReport rep = build_report("cfd", 4, job_records());
  for (const RankRow& row : rep.ranks) EXPECT_NE(row.rank, 2u) << "rank 2 sent no sample";
  // ...and it does not drag the imbalance with a zero compute time either.
  EXPECT_NEAR(rep.imbalance, kImbalance, 1e-12);
}

TEST(BuildReport, ZeroWallGivesZeroCpuShare) {
  // A sample taken at MPI_Init: no division by zero.
  Records r;
  r[0].window.push_back(sample(0, 0, 0));
  const JobReport rep = build_report("j", 1, r);
  ASSERT_EQ(rep.ranks.size(), 1u);
  EXPECT_EQ(rep.ranks[0].cpu_share, 0);
  EXPECT_EQ(rep.imbalance, 0);
}

TEST(BuildReport, BalancedJobHasZeroImbalance) {
  Records r;
  for (std::uint32_t i = 0; i < 4; ++i) r[i].window.push_back(sample(5, 1, 4));
  EXPECT_DOUBLE_EQ(build_report("j", 4, r).imbalance, 0);
}

TEST(BuildReport, NoRecords) {
  const JobReport rep = build_report("j", 8, {});
  EXPECT_TRUE(rep.ranks.empty());
  EXPECT_EQ(rep.imbalance, 0);
  EXPECT_EQ(rep.ranks_expected, 8u);
}

TEST(FormatTable, ListsEveryRankWithItsNode) {
  const std::string text = format_table(build_report("cfd", 4, job_records()));
  const auto ls = lines(text);
  // header, column titles, one line per reported rank, imbalance.
  ASSERT_EQ(ls.size(), 5u) << text;
  EXPECT_NE(ls[0].find("cfd"), std::string::npos) << ls[0];
  EXPECT_NE(ls[0].find("2 of 4 ranks"), std::string::npos) << ls[0];
  EXPECT_NE(ls[2].find("node-a"), std::string::npos) << ls[2];
  EXPECT_NE(ls[3].find("node-b"), std::string::npos) << ls[3];
  EXPECT_EQ(text.find("node-c"), std::string::npos) << "rank without samples must not be listed";
  // compute, mpi and cpu seconds of rank 0.
  EXPECT_NE(ls[2].find("6.000"), std::string::npos) << ls[2];
  EXPECT_NE(ls[2].find("4.000"), std::string::npos) << ls[2];
  EXPECT_NE(ls[2].find("8.000"), std::string::npos) << ls[2];
}

TEST(FormatTable, MarksOnlyIncompleteRanks) {
  const auto ls = lines(format_table(build_report("cfd", 4, job_records())));
  ASSERT_EQ(ls.size(), 5u);
  EXPECT_EQ(ls[2].find("(incomplete)"), std::string::npos) << "rank 0 finished: " << ls[2];
  EXPECT_NE(ls[3].find("(incomplete)"), std::string::npos) << "rank 1 did not finish: " << ls[3];
}

TEST(FormatTable, EndsWithTheImbalance) {
  const auto ls = lines(format_table(build_report("cfd", 4, job_records())));
  ASSERT_FALSE(ls.empty());
  EXPECT_NE(ls.back().find("imbalance"), std::string::npos) << ls.back();
  EXPECT_NE(ls.back().find("0.143"), std::string::npos) << ls.back();  // 8/7 - 1
}

TEST(ToJson, ParsesBackWithTheSameNumbers) {
  const JobReport rep = build_report("cfd", 4, job_records());
  const nlohmann::json j = nlohmann::json::parse(to_json(rep));
  EXPECT_EQ(j.at("job"), "cfd");
  EXPECT_EQ(j.at("ranks_expected"), 4);
  EXPECT_DOUBLE_EQ(j.at("imbalance").get<double>(), rep.imbalance);
  EXPECT_EQ(j.at("papi_events"), nlohmann::json({"PAPI_TOT_INS", "PAPI_TOT_CYC"}));
  ASSERT_TRUE(j.at("ranks").is_array());
  ASSERT_EQ(j.at("ranks").size(), rep.ranks.size());

  for (std::size_t i = 0; i < rep.ranks.size(); ++i) {
    const RankRow& row = rep.ranks[i];
    const nlohmann::json& r = j.at("ranks").at(i);
    EXPECT_EQ(r.at("rank").get<std::uint32_t>(), row.rank);
    EXPECT_EQ(r.at("node").get<std::string>(), row.node);
    EXPECT_EQ(r.at("core").get<int>(), row.core);
    EXPECT_EQ(r.at("numa").get<int>(), row.numa);
    EXPECT_DOUBLE_EQ(r.at("wall_seconds").get<double>(), row.wall);
    EXPECT_DOUBLE_EQ(r.at("compute_seconds").get<double>(), row.compute);
    EXPECT_DOUBLE_EQ(r.at("mpi_seconds").get<double>(), row.mpi);
    EXPECT_DOUBLE_EQ(r.at("cpu_seconds").get<double>(), row.cpu);
    EXPECT_DOUBLE_EQ(r.at("cpu_share").get<double>(), row.cpu_share);
    EXPECT_EQ(r.at("calls").get<std::uint64_t>(), row.calls);
    EXPECT_EQ(r.at("messages_sent").get<std::uint64_t>(), row.messages_sent);
    EXPECT_EQ(r.at("messages_received").get<std::uint64_t>(), row.messages_received);
    EXPECT_EQ(r.at("bytes_sent").get<std::uint64_t>(), row.bytes_sent);
    EXPECT_EQ(r.at("bytes_received").get<std::uint64_t>(), row.bytes_received);
    EXPECT_EQ(r.at("collective_bytes").get<std::uint64_t>(), row.collective_bytes);
    EXPECT_EQ(r.at("samples").get<std::uint64_t>(), row.samples);
    EXPECT_EQ(r.at("samples_dropped").get<std::uint64_t>(), row.dropped);
    EXPECT_EQ(r.at("papi").get<std::vector<std::int64_t>>(), row.papi);
    EXPECT_EQ(r.at("complete").get<bool>(), row.complete);
  }
  // Spelled out once, independent of the rows, so a bug in build_report cannot hide here.
  EXPECT_EQ(j["ranks"][0]["bytes_sent"].get<std::uint64_t>(), (1ull << 60) + 1);
  EXPECT_DOUBLE_EQ(j["ranks"][0]["compute_seconds"].get<double>(), 6);
  EXPECT_EQ(j["ranks"][1]["complete"], false);
}

TEST(ToJson, WorldMatrixOnlyWhenPresent) {
  JobReport rep = build_report("cfd", 4, job_records());
  {
    const nlohmann::json j = nlohmann::json::parse(to_json(rep));
    EXPECT_FALSE(j.contains("world_messages_sent"));
    EXPECT_FALSE(j.contains("world_messages_received"));
  }
  rep.world_sent = {{0, 3}, {5, 0}};
  rep.world_received = {{0, 5}, {3, 0}};
  const nlohmann::json j = nlohmann::json::parse(to_json(rep));
  ASSERT_TRUE(j.contains("world_messages_sent"));
  ASSERT_TRUE(j.contains("world_messages_received"));
  EXPECT_EQ(j["world_messages_sent"].get<std::vector<std::vector<std::uint64_t>>>(), rep.world_sent);
  EXPECT_EQ(j["world_messages_received"].get<std::vector<std::vector<std::uint64_t>>>(), rep.world_received);
}

TEST(ToJson, NonUtf8NamesDoNotLoseTheReport) {
  // Job names come from FERRY_JOB and node names from any peer's hello, and the wire decoder
  // accepts arbitrary bytes in strings. A Latin-1 job name or a stray peer must not make the
  // report throw at MPI_Finalize and be lost for the whole job.
  Records r = job_records();
  r[1].hello.node = "n\xff" "de-b";
  const JobReport rep = build_report("caf\xe9", 4, r);
  std::string text;
  ASSERT_NO_THROW(text = to_json(rep));
  const nlohmann::json j = nlohmann::json::parse(text);
  ASSERT_EQ(j.at("ranks").size(), 2u);
  EXPECT_EQ(j["ranks"][0]["node"], "node-a");  // valid names unchanged
  // Invalid bytes become U+FFFD; the rest of the name survives.
  EXPECT_EQ(j["job"], "caf\xef\xbf\xbd");
  EXPECT_EQ(j["ranks"][1]["node"], "n\xef\xbf\xbd" "de-b");
  EXPECT_DOUBLE_EQ(j["ranks"][1]["compute_seconds"].get<double>(), 8);
}

TEST(ToJson, EmptyReportHasAnEmptyRankArray) {
  // Consumers iterate "ranks": it must be [] rather than null or missing.
  const nlohmann::json j = nlohmann::json::parse(to_json(build_report("j", 2, {})));
  ASSERT_TRUE(j.contains("ranks"));
  EXPECT_TRUE(j["ranks"].is_array());
  EXPECT_TRUE(j["ranks"].empty());
}

}  // namespace
}  // namespace ferry::monitor
