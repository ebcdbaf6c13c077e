// Integration tests of the monitor under a real mpirun: tests/mpi/pattern.c runs with ferry
// preloaded or linked, and ferry's report is held against what the program knows it did.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mpirun.h"

namespace ferry::test {
namespace {

constexpr int kRanks = 4;
constexpr double kUnit = 0.25;   // seconds of compute per unit; rank k computes k units a phase
constexpr int kPhases = 3;

const std::map<std::string, std::string> kRootOk = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"},
                                                    {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"}};

std::map<std::string, std::string> with(std::map<std::string, std::string> extra) {
  extra.insert(kRootOk.begin(), kRootOk.end());
  return extra;
}

std::string pattern_args(const TempDir& dir) {
  return dir.file("expect.txt") + " " + std::to_string(kUnit) + " " + std::to_string(kPhases);
}

// What the program says it did, one line per rank (see pattern.c).
struct Expected {
  long sent_msgs, sent_bytes, recv_msgs, recv_bytes;
  std::vector<long> sent_to, recv_from;
};

std::vector<Expected> read_expected(const std::string& path, int ranks) {
  std::vector<Expected> out(static_cast<std::size_t>(ranks));
  std::istringstream in(read_file(path));
  for (int i = 0; i < ranks; ++i) {
    int rank = -1;
    Expected e;
    in >> rank >> e.sent_msgs >> e.sent_bytes >> e.recv_msgs >> e.recv_bytes;
    e.sent_to.resize(static_cast<std::size_t>(ranks));
    e.recv_from.resize(static_cast<std::size_t>(ranks));
    for (auto& v : e.sent_to) in >> v;
    for (auto& v : e.recv_from) in >> v;
    if (rank >= 0 && rank < ranks) out[static_cast<std::size_t>(rank)] = e;
  }
  return out;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

// Everything ferry must have seen of a pattern run, whichever way it was loaded.
void check_report(const TempDir& dir, double interval) {
  ASSERT_TRUE(std::filesystem::exists(dir.file("report.json"))) << "no report written";
  const auto report = nlohmann::json::parse(read_file(dir.file("report.json")));
  const auto expected = read_expected(dir.file("expect.txt"), kRanks);
  ASSERT_EQ(report["ranks"].size(), static_cast<std::size_t>(kRanks));
  EXPECT_EQ(report["ranks_expected"], kRanks);

  const double per_unit = kUnit * kPhases;
  for (const auto& r : report["ranks"]) {
    const int k = r["rank"];
    SCOPED_TRACE("rank " + std::to_string(k));
    const auto& e = expected[static_cast<std::size_t>(k)];
    EXPECT_TRUE(r["complete"].get<bool>());
    // Compute follows the program: k units a phase, measured by wall clock in the program.
    const double compute = r["compute_seconds"];
    EXPECT_GE(compute, per_unit * k - 0.05);
    EXPECT_LE(compute, per_unit * k + 0.35);
    // Exact counts, as the message drain will need them.
    EXPECT_EQ(r["messages_sent"].get<long>(), e.sent_msgs);
    EXPECT_EQ(r["bytes_sent"].get<long>(), e.sent_bytes);
    EXPECT_EQ(r["messages_received"].get<long>(), e.recv_msgs);
    EXPECT_EQ(r["bytes_received"].get<long>(), e.recv_bytes);
    for (int p = 0; p < kRanks; ++p) {
      EXPECT_EQ(report["world_messages_sent"][k][p].get<long>(), e.sent_to[static_cast<std::size_t>(p)]) << "to " << p;
      EXPECT_EQ(report["world_messages_received"][k][p].get<long>(), e.recv_from[static_cast<std::size_t>(p)])
          << "from " << p;
    }
    // CPU is really measured: something, never more than the wall clock allows.
    const double wall = r["wall_seconds"], cpu = r["cpu_seconds"];
    EXPECT_GT(cpu, 0.0);
    EXPECT_LE(cpu, wall * 1.05 + 0.02);
    EXPECT_FALSE(r["node"].get<std::string>().empty());
    EXPECT_GE(r["core"].get<int>(), 0);
    // Samples keep coming while a rank only computes (the sampler thread takes them then).
    EXPECT_GE(r["samples"].get<double>(), wall / interval * 0.5);
  }
  // Time in MPI mirrors compute: rank k waits for the slowest rank, (kRanks-1-k) units a phase.
  for (int k = 0; k + 1 < kRanks; ++k) {
    const double gap = report["ranks"][k]["mpi_seconds"].get<double>() - report["ranks"][k + 1]["mpi_seconds"].get<double>();
    EXPECT_GT(gap, per_unit * 0.6) << "mpi time of ranks " << k << " and " << k + 1;
    EXPECT_LT(gap, per_unit * 1.4) << "mpi time of ranks " << k << " and " << k + 1;
  }
  // compute 0, 1, 2, 3 units: max/mean - 1 = 3/1.5 - 1 = 1.
  EXPECT_NEAR(report["imbalance"].get<double>(), 1.0, 0.2);
}

TEST(MonitorMpi, PreloadedApplicationIsMeasured) {
  TempDir dir;
  const auto r = run(mpirun(kRanks, {"FERRY_ENABLE", "FERRY_MONITOR_REPORT", "FERRY_MONITOR_INTERVAL", "LD_PRELOAD"},
                            std::string(FERRY_TEST_PATTERN) + " " + pattern_args(dir)),
                     with({{"FERRY_ENABLE", "1"},
                           {"FERRY_MONITOR_REPORT", dir.file("report.json")},
                           {"FERRY_MONITOR_INTERVAL", "0.2"},
                           {"LD_PRELOAD", FERRY_TEST_LIBFERRY}}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("imbalance"), std::string::npos) << "rank 0 prints the table:\n" << r.err;
  check_report(dir, 0.2);
}

TEST(MonitorMpi, LinkedApplicationIsMeasured) {
  TempDir dir;
  const auto r = run(mpirun(kRanks, {"FERRY_ENABLE", "FERRY_MONITOR_REPORT", "FERRY_MONITOR_INTERVAL"},
                            std::string(FERRY_TEST_PATTERN_LINKED) + " " + pattern_args(dir)),
                     with({{"FERRY_ENABLE", "1"},
                           {"FERRY_MONITOR_REPORT", dir.file("report.json")},
                           {"FERRY_MONITOR_INTERVAL", "0.2"}}));
  ASSERT_EQ(r.status, 0) << r.err;
  check_report(dir, 0.2);
}

TEST(MonitorMpi, DisabledFerryIsInvisible) {
  TempDir dir;
  const std::string plain = std::string(FERRY_TEST_PATTERN) + " " + pattern_args(dir);
  const auto bare = run(mpirun(kRanks, {}, plain), with({}));
  ASSERT_EQ(bare.status, 0) << bare.err;
  // Preloaded and linked, with a report path configured but FERRY_ENABLE unset.
  const auto preloaded = run(mpirun(kRanks, {"FERRY_MONITOR_REPORT", "LD_PRELOAD"}, plain),
                             with({{"FERRY_MONITOR_REPORT", dir.file("report.json")}, {"LD_PRELOAD", FERRY_TEST_LIBFERRY}}));
  const auto linked = run(mpirun(kRanks, {"FERRY_MONITOR_REPORT"}, std::string(FERRY_TEST_PATTERN_LINKED) + " " + pattern_args(dir)),
                          with({{"FERRY_MONITOR_REPORT", dir.file("report.json")}}));
  for (const auto* r : {&preloaded, &linked}) {
    EXPECT_EQ(r->status, 0);
    EXPECT_EQ(r->out, bare.out);
    EXPECT_EQ(r->err, bare.err);
    EXPECT_TRUE(lines_with(r->err, "ferry").empty()) << r->err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("report.json")));
  EXPECT_FALSE(bare.out.empty());
}

TEST(MonitorMpi, BadConfigDisablesFerryWithOneLine) {
  TempDir dir;
  const std::string prog = std::string(FERRY_TEST_PATTERN) + " " + pattern_args(dir);
  const auto bare = run(mpirun(kRanks, {}, prog), with({}));
  const auto r = run(mpirun(kRanks, {"FERRY_ENABLE", "FERRY_MONITOR_INTERVAL", "FERRY_MONITOR_REPORT", "LD_PRELOAD"}, prog),
                     with({{"FERRY_ENABLE", "1"},
                           {"FERRY_MONITOR_INTERVAL", "fast"},
                           {"FERRY_MONITOR_REPORT", dir.file("report.json")},
                           {"LD_PRELOAD", FERRY_TEST_LIBFERRY}}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, bare.out) << "the application runs unchanged";
  const auto lines = lines_with(r.err, "ferry");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("monitor.interval"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("fast"), std::string::npos) << lines[0];
  EXPECT_FALSE(std::filesystem::exists(dir.file("report.json")));
}

TEST(MonitorMpi, UnknownPapiEventIsReportedOnceAndSkipped) {
  TempDir dir;
  const auto r = run(mpirun(kRanks, {"FERRY_ENABLE", "FERRY_MONITOR_PAPI_EVENTS", "FERRY_MONITOR_REPORT", "LD_PRELOAD"},
                            std::string(FERRY_TEST_PATTERN) + " " + dir.file("expect.txt") + " 0.05 2"),
                     with({{"FERRY_ENABLE", "1"},
                           {"FERRY_MONITOR_PAPI_EVENTS", "NOT_A_PAPI_EVENT"},
                           {"FERRY_MONITOR_REPORT", dir.file("report.json")},
                           {"LD_PRELOAD", FERRY_TEST_LIBFERRY}}));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_with(r.err, "NOT_A_PAPI_EVENT");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("skipped"), std::string::npos) << lines[0];
  const auto report = nlohmann::json::parse(read_file(dir.file("report.json")));
  // The fallback keeps the CPU time the rank receives: perf::TASK-CLOCK counts nanoseconds.
  ASSERT_EQ(report["papi_events"].size(), 1u);
  EXPECT_EQ(report["papi_events"][0], "perf::TASK-CLOCK");
  for (const auto& rank : report["ranks"]) {
    ASSERT_EQ(rank["papi"].size(), 1u);
    const double task_clock_s = rank["papi"][0].get<double>() * 1e-9;
    EXPECT_GT(task_clock_s, 0.0);
    EXPECT_LE(task_clock_s, rank["wall_seconds"].get<double>() + 0.5);
  }
}

TEST(MonitorMpi, PreloadedCxxApplicationIsMeasured) {
  TempDir dir;
  const auto r = run(mpirun(3, {"FERRY_ENABLE", "FERRY_MONITOR_REPORT", "LD_PRELOAD"},
                            std::string(FERRY_TEST_RING_CXX) + " 25 1000"),
                     with({{"FERRY_ENABLE", "1"},
                           {"FERRY_MONITOR_REPORT", dir.file("report.json")},
                           {"LD_PRELOAD", FERRY_TEST_LIBFERRY}}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ring_cxx: 75 messages"), std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(read_file(dir.file("report.json")));
  ASSERT_EQ(report["ranks"].size(), 3u);
  for (const auto& rank : report["ranks"]) {
    const int k = rank["rank"];
    EXPECT_EQ(rank["messages_sent"], 25);
    EXPECT_EQ(rank["messages_received"], 25);
    EXPECT_EQ(rank["bytes_sent"], 25000);
    EXPECT_EQ(rank["bytes_received"], 25000);
    EXPECT_EQ(report["world_messages_sent"][k][(k + 1) % 3], 25);
    EXPECT_EQ(report["world_messages_received"][k][(k + 2) % 3], 25);
  }
}

TEST(MonitorMpi, UnreadableConfigFileDisablesFerryWithOneLine) {
  TempDir dir;
  const auto r = run(mpirun(2, {"FERRY_ENABLE", "FERRY_CONFIG", "LD_PRELOAD"}, std::string(FERRY_TEST_RING_CXX) + " 3 10"),
                     with({{"FERRY_ENABLE", "1"},
                           {"FERRY_CONFIG", dir.file("missing.toml")},
                           {"LD_PRELOAD", FERRY_TEST_LIBFERRY}}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ring_cxx: 6 messages"), std::string::npos) << r.out;
  const auto lines = lines_with(r.err, "ferry");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("missing.toml: cannot read"), std::string::npos) << lines[0];
}

TEST(FerryCommand, ConfigReportsEveryProblemWithExitStatus2) {
  TempDir dir;
  write_file(dir.file("bad.toml"), "[monitor]\ninterval = \"fast\"\npapi_events = 3\n[monitr]\nx = 1\n");
  const auto r = run(std::string(FERRY_TEST_FERRY) + " config --file " + dir.file("bad.toml"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dir.file("bad.toml") + ":2: monitor.interval"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir.file("bad.toml") + ":3: monitor.papi_events"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("monitr"), std::string::npos) << r.err;
  const auto missing = run(std::string(FERRY_TEST_FERRY) + " config --file " + dir.file("absent.toml"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
}

TEST(FerryCommand, ConfigShowsWhereEachValueCameFrom) {
  TempDir dir;
  write_file(dir.file("ok.toml"), "[monitor]\ninterval = 0.5\n");
  const auto r = run(std::string(FERRY_TEST_FERRY) + " config --file " + dir.file("ok.toml") + " --set log.level=debug",
                     {{"FERRY_MONITOR_TABLE", "false"}});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(lines_with(r.out, "monitor.interval").empty());
  EXPECT_NE(lines_with(r.out, "monitor.interval")[0].find(dir.file("ok.toml") + ":2"), std::string::npos) << r.out;
  EXPECT_NE(lines_with(r.out, "monitor.table")[0].find("FERRY_MONITOR_TABLE"), std::string::npos) << r.out;
  EXPECT_NE(lines_with(r.out, "log.level")[0].find("command line"), std::string::npos) << r.out;
  EXPECT_NE(lines_with(r.out, "monitor.queue_samples")[0].find("default"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ferry::test
