// The civetweb exposer over real loopback sockets, promtool on our output, and the push client.
#include "exporters/exposer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "exporters/exposition.h"

namespace ferry::exporters {
namespace {

struct Reply {
  int status = 0;
  std::string headers;
  std::string body;
};

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

// Sends `request` verbatim and reads until the server closes.
Reply raw_request(std::uint16_t port, const std::string& request) {
  Reply reply;
  const int fd = connect_loopback(port);
  if (fd < 0) return reply;
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  const std::string raw = read_all(fd);
  ::close(fd);
  if (raw.size() > 12) reply.status = std::atoi(raw.substr(9, 3).c_str());
  const auto split = raw.find("\r\n\r\n");
  reply.headers = raw.substr(0, split);
  if (split != std::string::npos) reply.body = raw.substr(split + 4);
  return reply;
}

Reply http(std::uint16_t port, const std::string& method, const std::string& path,
           const std::string& extra_headers = "") {
  return raw_request(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n" +
                               extra_headers + "Connection: close\r\n\r\n");
}

std::shared_ptr<Registry> sample_registry() {
  auto r = std::make_shared<Registry>();
  r->counter_family("ferry_rank_mpi_seconds_total", "Seconds spent in MPI.")
      .add({{"job", "j1"}, {"node", "n0"}, {"rank", "0"}})
      .inc(1.25);
  r->gauge_family("ferry_rank_load_ratio", "Load relative to the mean.")
      .add({{"job", "j1"}, {"node", "n0"}, {"rank", "0"}})
      .set(1.1);
  auto& h = r->histogram_family("ferry_migration_stage_seconds", "Time per migration stage.",
                                {0.01, 0.1, 1, 10});
  h.add({{"job", "j1"}, {"stage", "drain"}}).observe(0.3);
  h.add({{"job", "j1"}, {"stage", "restore"}}).observe(12);
  return r;
}

class ExposerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(exposer.start("127.0.0.1:0", error)) << error;
    ASSERT_NE(exposer.port(), 0);
  }
  std::shared_ptr<Registry> registry = sample_registry();
  Exposer exposer{registry};
};

TEST_F(ExposerTest, ServesTextFormatOnPortZero) {
  const Reply r = http(exposer.port(), "GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            std::string::npos)
      << r.headers;
  EXPECT_EQ(r.body, text_format(*registry));
}

TEST_F(ExposerTest, ReflectsUpdatesBetweenScrapes) {
  registry->gauge_family("ferry_node_ranks", "Ranks.").add({{"node", "n0"}}).set(4);
  const Reply r = http(exposer.port(), "GET", "/metrics");
  EXPECT_NE(r.body.find("ferry_node_ranks{node=\"n0\"} 4\n"), std::string::npos);
}

TEST_F(ExposerTest, AcceptOpenMetricsGetsOpenMetrics) {
  const Reply r = http(exposer.port(), "GET", "/metrics",
                       "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
            std::string::npos)
      << r.headers;
  EXPECT_EQ(r.body, openmetrics_format(*registry));
}

TEST_F(ExposerTest, UnknownPathIs404) {
  for (const char* path : {"/nope", "/", "/metrics/extra", "/metricsx"}) {
    const Reply r = http(exposer.port(), "GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_FALSE(r.body.empty()) << path;
  }
}

TEST_F(ExposerTest, PostIs405) {
  const Reply r = raw_request(exposer.port(),
                              "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                              "Connection: close\r\n\r\nhi");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.headers.find("Allow: GET, HEAD"), std::string::npos);
}

TEST_F(ExposerTest, HugeHeaderIsRejectedAndServerKeepsServing) {
  const std::string huge(64 * 1024, 'a');
  const Reply r = http(exposer.port(), "GET", "/metrics", "X-Huge: " + huge + "\r\n");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);
  const Reply after = http(exposer.port(), "GET", "/metrics");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, text_format(*registry));
}

TEST_F(ExposerTest, SecondStartFailsClearly) {
  std::string error;
  EXPECT_FALSE(exposer.start("127.0.0.1:0", error));
  EXPECT_NE(error.find("already"), std::string::npos);
}

TEST(Exposer, BusyPortFailsWithMessage) {
  Exposer first(std::make_shared<Registry>());
  std::string error;
  ASSERT_TRUE(first.start("127.0.0.1:0", error)) << error;
  Exposer second(std::make_shared<Registry>());
  EXPECT_FALSE(second.start("127.0.0.1:" + std::to_string(first.port()), error));
  EXPECT_NE(error.find("cannot listen"), std::string::npos) << error;
  EXPECT_EQ(second.port(), 0);
}

TEST(Exposer, StopIsIdempotent) {
  Exposer e(std::make_shared<Registry>());
  e.stop();
  std::string error;
  ASSERT_TRUE(e.start("127.0.0.1:0", error)) << error;
  const std::uint16_t port = e.port();
  e.stop();
  e.stop();
  EXPECT_EQ(e.port(), 0);
  EXPECT_EQ(connect_loopback(port), -1);
}

TEST(Promtool, TextFormatIsClean) {
  auto registry = sample_registry();
  const std::string path = ::testing::TempDir() + "/ferry_promtool_input.prom";
  std::ofstream(path) << text_format(*registry);
  const std::string command = std::string(FERRY_TEST_PROMTOOL) + " check metrics < " + path + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) output += buf;
  const int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << command << "\n" << output;
}

// A one-shot HTTP server on a raw socket that records the request and answers `status`.
class FakeGateway {
 public:
  explicit FakeGateway(int status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 1);
    thread_ = std::thread([this, status] {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      timeval tv{5, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      // Read headers, then exactly Content-Length bytes of body.
      char buf[8192];
      while (request_.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
        if (n <= 0) break;
        request_.append(buf, static_cast<std::size_t>(n));
      }
      const auto cl = request_.find("Content-Length: ");
      const std::size_t want = cl == std::string::npos ? 0 : std::stoul(request_.substr(cl + 16));
      while (request_.size() < request_.find("\r\n\r\n") + 4 + want) {
        const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
        if (n <= 0) break;
        request_.append(buf, static_cast<std::size_t>(n));
      }
      const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                                " X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";
      ::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(conn);
    });
  }
  ~FakeGateway() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  const std::string& request() {
    thread_.join();
    return request_;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(PushToGateway, PutsTextFormatToJobPath) {
  auto registry = sample_registry();
  FakeGateway gateway(200);
  std::string error;
  ASSERT_TRUE(push_to_gateway("http://127.0.0.1:" + std::to_string(gateway.port()), "heat 2d",
                              *registry, error))
      << error;
  const std::string& req = gateway.request();
  EXPECT_EQ(req.rfind("PUT /metrics/job/heat%202d HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(req.substr(req.find("\r\n\r\n") + 4), text_format(*registry));
}

TEST(PushToGateway, Non2xxIsAnError) {
  FakeGateway gateway(400);
  std::string error;
  EXPECT_FALSE(push_to_gateway("http://localhost:" + std::to_string(gateway.port()), "j",
                               Registry{}, error));
  EXPECT_NE(error.find("HTTP 400"), std::string::npos) << error;
}

TEST(PushToGateway, BadUrlsAndRefusedConnection) {
  Registry registry;
  std::string error;
  EXPECT_FALSE(push_to_gateway("https://x:1", "j", registry, error));
  EXPECT_NE(error.find("http://"), std::string::npos);
  EXPECT_FALSE(push_to_gateway("http://:9091", "j", registry, error));
  EXPECT_FALSE(push_to_gateway("http://host:port", "j", registry, error));
  EXPECT_FALSE(push_to_gateway("http://127.0.0.1:1", "", registry, error));
  EXPECT_NE(error.find("job"), std::string::npos);
  EXPECT_FALSE(push_to_gateway("http://no-such-host.invalid:9091", "j", registry, error));
  EXPECT_NE(error.find("resolve"), std::string::npos) << error;
  // Port 1 on loopback: nothing listens there on a test machine.
  EXPECT_FALSE(push_to_gateway("http://127.0.0.1:1", "j", registry, error));
  EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
}

}  // namespace
}  // namespace ferry::exporters
