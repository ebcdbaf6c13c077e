// The control socket of a job: a Unix stream socket (mode 0600) on which `ferry status`,
// `ferry migrate` and friends send one JSON request per line and read one JSON reply per line.
// Only the job's own user or root may talk to it (the peer's uid is checked on every
// connection). A malformed or oversized request gets an error reply; the server keeps serving.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace ferry::supervisor {

inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  ControlServer() = default;
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Listens on `path` and answers with `handler` on its own thread.
  bool start(const std::string& path, Handler handler, std::string& error);
  void stop();

  std::uint64_t refused() const { return refused_.load(); }

 private:
  struct Client {
    std::string buffer;
    std::string out;
    bool closing = false;
  };
  void run();
  void serve(int fd, Client& c);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> refused_{0};
  std::map<int, Client> clients_;
};

/// One request, one reply. Error (connection refused, timeout, bad reply) in `error`.
bool control_request(const std::string& path, const nlohmann::json& request, nlohmann::json& reply,
                     std::string& error, int timeout_ms = 5000);

/// {"ok": false, "error": message}
nlohmann::json error_reply(const std::string& message);

}  // namespace ferry::supervisor
