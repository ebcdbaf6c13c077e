// `ferry run` on this host: the supervisor launches, reports live status, passes on exit status
// and signals, and leaves nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "mpirun.h"

namespace ferry::test {
namespace {

const std::string kFerry = FERRY_TEST_FERRY;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("FERRY_RUN_DIR", dir_.file("run").c_str(), 1);
    setenv("FERRY_EXPORTER_LISTEN", "127.0.0.1:0", 1);  // any free port: tests never collide
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    host_ = host;
  }
  void TearDown() override {
    unsetenv("FERRY_RUN_DIR");
    unsetenv("FERRY_EXPORTER_LISTEN");
  }

  // Starts `ferry run ARGS` in the background; returns its pid.
  pid_t start(const std::string& args) {
    const std::string cmd = kFerry + " run " + args + " >" + dir_.file("run.out") + " 2>" + dir_.file("run.err") +
                            " </dev/null & echo $!";
    FILE* p = popen(cmd.c_str(), "r");
    int pid = 0;
    if (p == nullptr || std::fscanf(p, "%d", &pid) != 1) pid = 0;
    if (p) pclose(p);
    return pid;
  }

  // Waits until `ferry status JOB --json` answers with every rank reporting.
  nlohmann::json wait_status(const std::string& job, int ranks, int seconds = 30) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    nlohmann::json last;
    while (std::chrono::steady_clock::now() < end) {
      const auto r = run(kFerry + " status --json " + job, {}, 10);
      if (r.status == 0) {
        last = nlohmann::json::parse(r.out);
        int reporting = 0;
        for (const auto& row : last["ranks"]) reporting += row.value("samples", 0) > 0 ? 1 : 0;
        if (reporting == ranks) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    return last;
  }

  static bool gone(pid_t pid, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (kill(pid, 0) != 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Processes whose command line mentions this test's directory (the ranks' arguments do).
  std::string leftovers() { return run("pgrep -af " + dir_.path() + " | grep -v pgrep || true").out; }

  TempDir dir_;
  std::string host_;
};

TEST_F(RunTest, StatusShowsThePlacementWhileTheJobRuns) {
  const pid_t pid = start("-np 4 --nodes " + host_ + " --map cyclic --job statusjob -- " FERRY_TEST_PATTERN " " +
                          dir_.file("expect.txt") + " 1.0 3");
  ASSERT_GT(pid, 0);
  const auto status = wait_status("statusjob", 4);
  ASSERT_EQ(status["ranks"].size(), 4u) << status.dump();
  EXPECT_EQ(status["job"], "statusjob");
  for (const auto& r : status["ranks"]) {
    EXPECT_EQ(r["node"], host_);
    EXPECT_EQ(r["reported_node"], host_);
    EXPECT_EQ(r["state"], "running");
  }
  // The job is also found by the PID of its `ferry run`, as ompi-migrate took mpirun's PID.
  const auto by_pid = run(kFerry + " status " + std::to_string(pid), {}, 10);
  EXPECT_EQ(by_pid.status, 0) << by_pid.err;
  EXPECT_NE(by_pid.out.find("statusjob"), std::string::npos) << by_pid.out;
  const auto jobs = run(kFerry + " jobs", {}, 10);
  EXPECT_NE(jobs.out.find("statusjob"), std::string::npos) << jobs.out;
  // job.json holds the placement of the generated rankfile.
  const auto job = nlohmann::json::parse(read_file(dir_.file("run/statusjob/job.json")));
  EXPECT_EQ(job["pid"], pid);
  ASSERT_EQ(job["placement"].size(), 4u);
  const std::string rankfile = read_file(dir_.file("run/statusjob/rankfile"));
  EXPECT_EQ(rankfile.substr(0, rankfile.find('\n')), "rank 0=" + host_ + " slot=0");
  for (const auto& p : job["placement"]) EXPECT_EQ(p["node"], host_);
  ASSERT_TRUE(gone(pid, 60));
  EXPECT_EQ(leftovers(), "");
  EXPECT_NE(read_file(dir_.file("run.err")).find("4 of 4 ranks reported"), std::string::npos)
      << read_file(dir_.file("run.err"));
}

TEST_F(RunTest, LiveScrapeIsPromtoolClean) {
  const pid_t pid = start("-np 4 --nodes " + host_ + " --job scrapejob -- " FERRY_TEST_PATTERN " " +
                          dir_.file("expect.txt") + " 1.0 3");
  ASSERT_GT(pid, 0);
  wait_status("scrapejob", 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // one refresh of the metrics
  const auto job = nlohmann::json::parse(read_file(dir_.file("run/scrapejob/job.json")));
  const std::string url = job.value("metrics", "");
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
  const auto scrape = run("curl -sf " + url, {}, 10);
  ASSERT_EQ(scrape.status, 0) << scrape.err;
  for (int r = 0; r < 4; ++r)
    EXPECT_NE(scrape.out.find("ferry_rank_compute_seconds_total{job=\"scrapejob\",node=\"" + host_ + "\",rank=\"" +
                              std::to_string(r) + "\"}"),
              std::string::npos)
        << scrape.out;
  EXPECT_NE(scrape.out.find("ferry_node_ranks{job=\"scrapejob\",node=\"" + host_ + "\"} 4"), std::string::npos);
  write_file(dir_.file("scrape.txt"), scrape.out);
  const auto lint = run("promtool check metrics < " + dir_.file("scrape.txt"), {}, 30);
  EXPECT_EQ(lint.status, 0) << lint.out << lint.err;
  const auto missing = run("curl -s -o /dev/null -w '%{http_code}' " + url.substr(0, url.rfind('/')) + "/nope", {}, 10);
  EXPECT_EQ(missing.out, "404");
  ASSERT_TRUE(gone(pid, 60));
}

TEST_F(RunTest, ExitStatusOfTheJobIsPassedOn) {
  const auto r = run(kFerry + " run -np 2 --nodes " + host_ + " -- sh -c 'exit 3'", {}, 60);
  EXPECT_EQ(r.status, 3) << r.err;
  const auto ok = run(kFerry + " run -np 2 --nodes " + host_ + " -- true", {}, 60);
  EXPECT_EQ(ok.status, 0) << ok.err;
}

TEST_F(RunTest, InterruptEndsTheWholeJob) {
  const pid_t pid = start("-np 3 --nodes " + host_ + " --job intjob -- " FERRY_TEST_PATTERN " " +
                          dir_.file("expect.txt") + " 5.0 4");
  ASSERT_GT(pid, 0);
  wait_status("intjob", 3);
  ASSERT_NE(leftovers(), "") << "the job should be running";
  kill(pid, SIGINT);
  ASSERT_TRUE(gone(pid, 20)) << "ferry run did not end after SIGINT";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(leftovers(), "");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("run/intjob")));
}

TEST_F(RunTest, KilledSupervisorLeavesNoRanks) {
  const pid_t pid = start("-np 3 --nodes " + host_ + " --job killjob -- " FERRY_TEST_PATTERN " " +
                          dir_.file("expect.txt") + " 5.0 4");
  ASSERT_GT(pid, 0);
  wait_status("killjob", 3);
  kill(pid, SIGKILL);
  ASSERT_TRUE(gone(pid, 5));
  std::string left;
  for (int i = 0; i < 100 && !(left = leftovers()).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(left, "");
  // The dead job is not listed as running.
  EXPECT_EQ(run(kFerry + " jobs", {}, 10).out.find("killjob"), std::string::npos);
}

TEST_F(RunTest, BadInvocationsAreRefusedClearly) {
  const auto no_prog = run(kFerry + " run -np 2", {}, 10);
  EXPECT_EQ(no_prog.status, 2);
  EXPECT_NE(no_prog.err.find("no program"), std::string::npos) << no_prog.err;
  const auto too_many = run(kFerry + " run -np 9 --nodes a:2,b:2 -- true", {}, 10);
  EXPECT_EQ(too_many.status, 2);
  EXPECT_NE(too_many.err.find("9 ranks"), std::string::npos) << too_many.err;
  const auto bad_map = run(kFerry + " run -np 2 --map diagonal -- true", {}, 10);
  EXPECT_EQ(bad_map.status, 2);
  EXPECT_NE(bad_map.err.find("diagonal"), std::string::npos) << bad_map.err;
  const auto bad_np = run(kFerry + " run -np zero -- true", {}, 10);
  EXPECT_EQ(bad_np.status, 2);
  const auto unknown = run(kFerry + " status nosuchjob", {}, 10);
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.err.find("no running job \"nosuchjob\""), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace ferry::test
