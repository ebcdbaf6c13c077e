// The control socket: answers requests, refuses bad ones clearly, and keeps serving.
#include "supervisor/control.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace ferry::supervisor {
namespace {

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-control-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/control.sock";
    std::string error;
    ASSERT_TRUE(server_.start(path_, [](const nlohmann::json& r) -> nlohmann::json {
      if (r["cmd"] == "status") return {{"ok", true}, {"state", "running"}};
      return error_reply("unknown command");
    }, error)) << error;
  }
  void TearDown() override {
    server_.stop();
    ::rmdir(dir_.c_str());
  }

  // Sends raw bytes, returns the first reply line (empty if the server closed silently).
  std::string raw(const std::string& bytes) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    std::string in;
    char buf[4096];
    for (ssize_t n; in.find('\n') == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, n);
    ::close(fd);
    return in.substr(0, in.find('\n'));
  }

  std::string dir_, path_;
  ControlServer server_;
};

TEST_F(ControlTest, SocketIsPrivateToItsUser) {
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlTest, AnswersARequest) {
  nlohmann::json reply;
  std::string error;
  ASSERT_TRUE(control_request(path_, {{"cmd", "status"}}, reply, error)) << error;
  EXPECT_EQ(reply["state"], "running");
}

TEST_F(ControlTest, MalformedRequestsGetClearErrorsAndServingGoesOn) {
  const auto not_json = nlohmann::json::parse(raw("this is not json\n"));
  EXPECT_EQ(not_json["ok"], false);
  EXPECT_NE(not_json["error"].get<std::string>().find("not JSON"), std::string::npos);
  const auto no_cmd = nlohmann::json::parse(raw("{\"x\":1}\n"));
  EXPECT_NE(no_cmd["error"].get<std::string>().find("\"cmd\""), std::string::npos);
  const auto unknown = nlohmann::json::parse(raw("{\"cmd\":\"explode\"}\n"));
  EXPECT_EQ(unknown["ok"], false);
  nlohmann::json reply;
  std::string error;
  EXPECT_TRUE(control_request(path_, {{"cmd", "status"}}, reply, error)) << error;
}

TEST_F(ControlTest, OversizedRequestIsRefusedAndServingGoesOn) {
  const auto big = nlohmann::json::parse(raw(std::string(kMaxRequestBytes * 2, 'x')));
  EXPECT_EQ(big["ok"], false);
  EXPECT_NE(big["error"].get<std::string>().find("too large"), std::string::npos);
  nlohmann::json reply;
  std::string error;
  EXPECT_TRUE(control_request(path_, {{"cmd", "status"}}, reply, error)) << error;
}

TEST(Control, UnreachableSocketIsAClearError) {
  nlohmann::json reply;
  std::string error;
  EXPECT_FALSE(control_request("/tmp/ferry-no-such-dir/control.sock", {{"cmd", "status"}}, reply, error));
  EXPECT_NE(error.find("cannot reach"), std::string::npos) << error;
}

}  // namespace
}  // namespace ferry::supervisor
