#include "monitor/collector.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/wire.h"

namespace ferry::monitor {

namespace {

std::string peer_name(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  char port[16] = "?";
  getnameinfo(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, host, sizeof host, port, sizeof port,
              NI_NUMERICHOST | NI_NUMERICSERV);
  return std::string(host) + ":" + port;
}

// Thousands of ranks means thousands of sockets: take every descriptor the hard limit allows.
void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

Collector::~Collector() { stop(); }

bool Collector::start(const Options& options, std::string& error) noexcept {
  try {
    options_ = options;
    const std::size_t colon = options.listen.rfind(':');
    if (colon == std::string::npos) {
      error = "collector address \"" + options.listen + "\" is not host:port";
      return false;
    }
    const std::string host = options.listen.substr(0, colon);
    const std::string port = options.listen.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      error = "collector address \"" + options.listen + "\": " + gai_strerror(rc);
      return false;
    }
    listen_fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const bool bound = listen_fd_ >= 0 && ::bind(listen_fd_, res->ai_addr, res->ai_addrlen) == 0 &&
                       ::listen(listen_fd_, 4096) == 0;
    freeaddrinfo(res);
    if (!bound) {
      error = "collector cannot listen on " + options.listen + ": " + std::strerror(errno);
      if (listen_fd_ >= 0) ::close(listen_fd_);
      listen_fd_ = -1;
      return false;
    }
    sockaddr_in bound_addr{};
    socklen_t len = sizeof bound_addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound_addr), &len);
    port_ = ntohs(bound_addr.sin_port);

    raise_fd_limit();
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.data.fd = wake_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    stop_ = false;
    thread_ = std::thread([this] { run(); });
    return true;
  } catch (const std::exception& e) {
    error = std::string("collector could not start: ") + e.what();
    return false;
  }
}

void Collector::stop() noexcept {
  if (!thread_.joinable()) return;
  stop_ = true;
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
  thread_.join();
  for (auto& [fd, c] : connections_) ::close(fd);
  connections_.clear();
  ::close(listen_fd_);
  ::close(epoll_fd_);
  ::close(wake_fd_);
  listen_fd_ = epoll_fd_ = wake_fd_ = -1;
}

void Collector::run() noexcept {
  epoll_event events[256];
  while (!stop_) {
    const int n = epoll_wait(epoll_fd_, events, 256, 500);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) continue;
      if (fd == listen_fd_) {
        for (;;) {
          sockaddr_storage addr{};
          socklen_t len = sizeof addr;
          const int cfd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          try {
            auto c = std::make_unique<Connection>();
            c->fd = cfd;
            c->peer = peer_name(addr);
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.fd = cfd;
            epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, cfd, &ev);
            connections_.emplace(cfd, std::move(c));
            ++open_;
          } catch (...) {
            ::close(cfd);
          }
        }
        continue;
      }
      auto it = connections_.find(fd);
      if (it != connections_.end()) on_readable(*it->second);
    }
  }
}

void Collector::on_readable(Connection& c) noexcept {
  try {
    std::uint8_t chunk[65536];
    bool closed = false;
    for (;;) {
      const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        c.buffer.insert(c.buffer.end(), chunk, chunk + n);
        if (c.buffer.size() > 4 * core::wire::kMaxPayload) break;  // decode before reading more
        continue;
      }
      if (n == 0) closed = true;
      else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) closed = true;
      break;
    }
    std::size_t offset = 0;
    std::string bad;
    std::vector<std::string> controls;
    {
      std::lock_guard lock(mutex_);
      while (offset < c.buffer.size()) {
        auto d = core::wire::decode(std::span(c.buffer).subspan(offset));
        if (d.status == core::wire::Decoded::Status::NeedMore) break;
        if (d.status == core::wire::Decoded::Status::Error) {
          bad = d.error;
          break;
        }
        offset += d.consumed;
        if (auto* h = std::get_if<core::Hello>(&d.message)) {
          c.has_rank = true;
          c.rank = h->rank;
          RankRecord& r = ranks_[h->rank];
          c.record = &r;
          if (r.hello.pid != 0 && r.hello.pid != h->pid) {  // the rank was restarted
            ++r.incarnation;
            r.window.clear();
            r.finished = false;
          }
          r.hello = *h;
          rank_fd_[h->rank] = c.fd;
          r.connected = true;
          r.lost = false;
        } else if (auto* s = std::get_if<core::Sample>(&d.message)) {
          if (!c.has_rank || s->rank != c.rank) {
            bad = "sample for rank " + std::to_string(s->rank) + " on a connection that did not introduce it";
            break;
          }
          RankRecord& r = *c.record;
          if (!r.window.empty() && s->seq > r.window.back().seq + 1) r.gaps += s->seq - r.window.back().seq - 1;
          r.window.push_back(*s);
          while (r.window.size() > options_.window) r.window.pop_front();
          ++r.samples;
          ++samples_;
          if (s->flags & core::kSampleFinal) r.finished = true;
        } else if (auto* k = std::get_if<core::wire::Control>(&d.message)) {
          if (!c.has_rank) {
            bad = "control message on a connection that did not introduce its rank";
            break;
          }
          controls.push_back(std::move(k->json));
        }
      }
    }
    c.buffer.erase(c.buffer.begin(), c.buffer.begin() + static_cast<std::ptrdiff_t>(offset));
    if (options_.on_control)
      for (const auto& j : controls) options_.on_control(c.rank, j);
    if (!bad.empty()) {
      ++errors_;
      core::log_warn("collector: closing connection from " + c.peer + ": " + bad);
      closed = true;
    }
    changed_.notify_all();
    if (closed) close_connection(c.fd);
  } catch (...) {
    close_connection(c.fd);
  }
}

void Collector::close_connection(int fd) noexcept {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  {
    std::lock_guard lock(mutex_);
    if (it->second->has_rank) {
      if (auto f = rank_fd_.find(it->second->rank); f != rank_fd_.end() && f->second == fd) rank_fd_.erase(f);
      auto r = ranks_.find(it->second->rank);
      if (r != ranks_.end()) {
        r->second.connected = false;
        r->second.lost = !r->second.finished;
      }
    }
    --open_;  // under the mutex, so that wait_disconnected cannot miss the last one
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  connections_.erase(it);
  changed_.notify_all();
}

bool Collector::send_control(std::uint32_t rank, const std::string& json) {
  std::vector<std::uint8_t> frame;
  if (!core::wire::encode(core::wire::Control{json}, frame)) return false;
  // Under the lock: the connection cannot be closed (and its descriptor reused) meanwhile.
  std::lock_guard lock(mutex_);
  auto it = rank_fd_.find(rank);
  if (it == rank_fd_.end()) return false;
  std::size_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (done < frame.size()) {
    const ssize_t n = ::send(it->second, frame.data() + done, frame.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{it->second, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    return false;
  }
  return true;
}

std::map<std::uint32_t, RankRecord> Collector::snapshot() const {
  std::lock_guard lock(mutex_);
  return ranks_;
}

std::map<std::uint32_t, RankRecord> Collector::recent(double seconds) const {
  std::lock_guard lock(mutex_);
  std::map<std::uint32_t, RankRecord> out;
  for (const auto& [rank, r] : ranks_) {
    RankRecord copy;
    copy.hello = r.hello;
    copy.connected = r.connected;
    copy.finished = r.finished;
    copy.lost = r.lost;
    copy.samples = r.samples;
    copy.gaps = r.gaps;
    copy.incarnation = r.incarnation;
    if (!r.window.empty()) {
      const double newest = r.window.back().wall;
      auto it = r.window.end();
      while (it != r.window.begin() && newest - std::prev(it)->wall <= seconds) --it;
      if (it != r.window.begin()) --it;  // the sample just before the window: its start point
      copy.window.assign(it, r.window.end());
    }
    out.emplace(rank, std::move(copy));
  }
  return out;
}

bool Collector::wait_finished(std::uint32_t ranks, double seconds) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, std::chrono::duration<double>(seconds), [&] {
    std::uint32_t done = 0;
    for (auto& [rank, r] : ranks_) done += r.finished ? 1 : 0;
    return done >= ranks;
  });
}

bool Collector::wait_disconnected(double seconds) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return open_.load() == 0; });
}

std::string local_addresses(std::uint16_t port) {
  std::string out, loopback;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
      char ip[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, ip, sizeof ip);
      const std::string item = std::string(ip) + ":" + std::to_string(port);
      std::string& into = std::strncmp(ip, "127.", 4) == 0 ? loopback : out;
      if (!into.empty()) into += ',';
      into += item;
    }
    freeifaddrs(list);
  }
  if (loopback.empty()) loopback = "127.0.0.1:" + std::to_string(port);
  return out.empty() ? loopback : out + "," + loopback;
}

}  // namespace ferry::monitor
