#include "supervisor/control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/log.h"

namespace ferry::supervisor {

nlohmann::json error_reply(const std::string& message) { return {{"ok", false}, {"error", message}}; }

namespace {

bool make_address(const std::string& path, sockaddr_un& addr, std::string& error) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    error = "control socket path is too long (" + std::to_string(path.size()) + " bytes, max " +
            std::to_string(sizeof addr.sun_path - 1) + "): " + path;
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  return true;
}

// Whether the peer may control this job: the same user, or root.
bool peer_allowed(int fd, uid_t& peer_uid) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  peer_uid = cred.uid;
  return cred.uid == 0 || cred.uid == geteuid();
}

}  // namespace

ControlServer::~ControlServer() { stop(); }

bool ControlServer::start(const std::string& path, Handler handler, std::string& error) {
  sockaddr_un addr;
  if (!make_address(path, addr, error)) return false;
  ::unlink(path.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // The socket is created 0600 (umask) before anyone can connect, then checked again per peer.
  const mode_t old = ::umask(0177);
  const bool ok = listen_fd_ >= 0 && ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::listen(listen_fd_, 64) == 0;
  ::umask(old);
  if (!ok) {
    error = "cannot listen on control socket " + path + ": " + std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  ::chmod(path.c_str(), 0600);
  path_ = path;
  handler_ = std::move(handler);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void ControlServer::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
  thread_.join();
  for (auto& [fd, c] : clients_) ::close(fd);
  clients_.clear();
  ::close(listen_fd_);
  ::close(wake_fd_);
  ::unlink(path_.c_str());
  listen_fd_ = wake_fd_ = -1;
}

void ControlServer::run() {
  while (!stop_) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    for (auto& [fd, c] : clients_) fds.push_back({fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      for (int cfd; (cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
        uid_t uid = 0;
        if (!peer_allowed(cfd, uid)) {
          ++refused_;
          const std::string reply = error_reply("permission denied: uid " + std::to_string(uid) +
                                                " may not control a job of uid " + std::to_string(geteuid()))
                                        .dump() + "\n";
          ssize_t ignored = ::send(cfd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          (void)ignored;
          // Closing with the peer's request unread would reset the connection and could discard
          // the reply before the peer reads it: end our side, then drain what has arrived.
          ::shutdown(cfd, SHUT_WR);
          char sink[4096];
          for (int i = 0; i < 20; ++i) {
            pollfd p{cfd, POLLIN, 0};
            if (::poll(&p, 1, 5) != 1 || ::recv(cfd, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
          }
          ::close(cfd);
          core::log_warn("control: refused a connection from uid " + std::to_string(uid));
          continue;
        }
        clients_[cfd];
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = clients_.find(fds[i].fd);
      if (it == clients_.end()) continue;
      serve(it->first, it->second);
      if (it->second.closing && it->second.out.empty()) {
        ::close(it->first);
        clients_.erase(it);
      }
    }
  }
}

void ControlServer::serve(int fd, Client& c) {
  if (!c.out.empty()) {
    const ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
    else if (n < 0 && errno != EAGAIN) c.out.clear(), c.closing = true;
    return;
  }
  char chunk[8192];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) {
    if (n == 0 || errno != EAGAIN) c.closing = true;
    return;
  }
  c.buffer.append(chunk, static_cast<std::size_t>(n));
  for (std::size_t nl; (nl = c.buffer.find('\n')) != std::string::npos;) {
    const std::string line = c.buffer.substr(0, nl);
    c.buffer.erase(0, nl + 1);
    nlohmann::json reply;
    try {
      const auto request = nlohmann::json::parse(line);
      if (!request.is_object() || !request.contains("cmd") || !request["cmd"].is_string())
        reply = error_reply("a request is a JSON object with a string \"cmd\", e.g. {\"cmd\":\"status\"}");
      else
        reply = handler_(request);
    } catch (const nlohmann::json::parse_error&) {
      reply = error_reply("malformed request: not JSON (" + std::to_string(line.size()) + " bytes)");
    } catch (const std::exception& e) {
      reply = error_reply(std::string("internal error: ") + e.what());
    }
    c.out += reply.dump() + "\n";
  }
  if (c.buffer.size() > kMaxRequestBytes) {
    c.out += error_reply("request too large (over " + std::to_string(kMaxRequestBytes) + " bytes)").dump() + "\n";
    c.buffer.clear();
    c.closing = true;
  }
}

bool control_request(const std::string& path, const nlohmann::json& request, nlohmann::json& reply,
                     std::string& error, int timeout_ms) {
  sockaddr_un addr;
  if (!make_address(path, addr, error)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = "cannot reach the job's control socket " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  const std::string line = request.dump() + "\n";
  // A server that refuses us answers first and closes, so our send may fail: read its reason anyway.
  const bool sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
  const std::string send_error = sent ? "" : std::strerror(errno);
  bool ok = true;
  std::string in;
  while (ok && in.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
      error = "the job did not answer within " + std::to_string(timeout_ms / 1000.0) + " s";
      ok = false;
      break;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      error = "the job closed the control connection" + (sent ? std::string() : " (" + send_error + ")");
      ok = false;
      break;
    }
    in.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!ok) return false;
  try {
    reply = nlohmann::json::parse(in.substr(0, in.find('\n')));
  } catch (const std::exception& e) {
    error = std::string("the job's reply is not JSON: ") + e.what();
    return false;
  }
  if (reply.is_object() && reply.value("ok", true) == false) {
    error = reply.value("error", "request failed");
    return false;
  }
  return true;
}

}  // namespace ferry::supervisor
