// civetweb glue and the Pushgateway client. Both are C/POSIX boundaries: nothing may throw out of
// them, so every handler catches everything and answers 500 instead.
#include "exporters/exposer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string_view>

#include "exporters/exposition.h"

namespace ferry::exporters {
namespace {

// Bounds the request line plus headers; civetweb answers larger requests itself (4xx) and keeps
// serving, so a misbehaving client cannot make it buffer without limit.
constexpr const char* max_request_size = "16384";

void send_text(mg_connection* conn, int status, const char* reason, std::string_view body,
               const char* extra_headers = "") {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
            status, reason, body.size(), extra_headers);
  mg_write(conn, body.data(), body.size());
}

// civetweb would otherwise print its own errors to stderr of the supervisor.
int quiet_log(const mg_connection*, const char*) { return 1; }

}  // namespace

Exposer::Exposer(std::shared_ptr<const Registry> registry) : registry_(std::move(registry)) {}

Exposer::~Exposer() { stop(); }

bool Exposer::start(const std::string& listen, std::string& error) {
  if (context_ != nullptr) {
    error = "metrics exposer: already listening on port " + std::to_string(port_);
    return false;
  }
  if (!registry_) {
    error = "metrics exposer: no registry to serve";
    return false;
  }
  static std::once_flag init_once;
  std::call_once(init_once, [] { mg_init_library(0); });

  const char* options[] = {"listening_ports", listen.c_str(),
                           "num_threads", "2",
                           "max_request_size", max_request_size,
                           "request_timeout_ms", "10000",
                           "enable_keep_alive", "no",
                           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = quiet_log;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = options;
  mg_error_data err{};
  unsigned err_code = 0;
  char err_text[256] = {0};
  err.code = &err_code;
  err.text = err_text;
  err.text_buffer_size = sizeof err_text;
  context_ = mg_start2(&init, &err);
  if (context_ == nullptr) {
    error = "metrics exposer: cannot listen on '" + listen + "': " +
            (err_text[0] ? err_text : "civetweb refused to start") +
            " (use host:port, e.g. 127.0.0.1:9464, and a free port)";
    return false;
  }
  mg_server_port ports[4];
  const int n = mg_get_server_ports(context_, 4, ports);
  if (n < 1 || ports[0].port <= 0) {
    stop();
    error = "metrics exposer: started on '" + listen + "' but could not read the bound port";
    return false;
  }
  port_ = static_cast<std::uint16_t>(ports[0].port);
  // "$" makes the match exact; "/" catches every other path so the answer is ours, not civetweb's.
  mg_set_request_handler(context_, "/metrics$", &Exposer::handle_metrics, this);
  mg_set_request_handler(context_, "/", &Exposer::handle_not_found, this);
  return true;
}

void Exposer::stop() noexcept {
  if (context_ == nullptr) return;
  // civetweb's listener notices the stop only when its poll() returns, after up to 2 s: knock on
  // our own port until mg_stop has returned, so stopping takes milliseconds.
  std::atomic<bool> stopped{false};
  std::thread knock;
  try {
    knock = std::thread([this, &stopped] {
      for (int i = 0; i < 200 && !stopped.load(); ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) break;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port_);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  } catch (...) {
  }
  mg_stop(context_);
  stopped = true;
  if (knock.joinable()) knock.join();
  context_ = nullptr;
  port_ = 0;
}

int Exposer::handle_metrics(mg_connection* conn, void* self) noexcept {
  try {
    const mg_request_info* info = mg_get_request_info(conn);
    const std::string_view method = info->request_method ? info->request_method : "";
    if (method != "GET" && method != "HEAD") {
      send_text(conn, 405, "Method Not Allowed", "only GET and HEAD are supported on /metrics\n",
                "Allow: GET, HEAD\r\n");
      return 405;
    }
    const char* accept = mg_get_header(conn, "Accept");
    const ExpositionFormat format = choose_format(accept ? accept : "");
    const std::string body = render(*static_cast<Exposer*>(self)->registry_, format);
    const std::string_view type = content_type(format);
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
              static_cast<int>(type.size()), type.data(), body.size());
    if (method == "GET") mg_write(conn, body.data(), body.size());
    return 200;
  } catch (...) {
    send_text(conn, 500, "Internal Server Error", "metrics rendering failed\n");
    return 500;
  }
}

int Exposer::handle_not_found(mg_connection* conn, void*) noexcept {
  send_text(conn, 404, "Not Found", "not found; metrics are served at /metrics\n");
  return 404;
}

// ---- Pushgateway client ----

namespace {

// Percent-encodes everything but RFC 3986 unreserved characters, so a job name cannot add path
// segments of its own.
std::string url_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

bool push_to_gateway(const std::string& url, const std::string& job, const Registry& registry,
                     std::string& error) {
  try {
    constexpr std::string_view scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0) {
      error = "pushgateway: url '" + url + "' must start with http:// (https is not supported)";
      return false;
    }
    if (job.empty()) {
      error = "pushgateway: job name is empty";
      return false;
    }
    std::string_view rest = std::string_view(url).substr(scheme.size());
    std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view base_path = rest.substr(authority.size());
    while (!base_path.empty() && base_path.back() == '/') base_path.remove_suffix(1);
    std::string host(authority.substr(0, authority.find(':')));
    std::string port = authority.find(':') == std::string_view::npos
                           ? "9091"
                           : std::string(authority.substr(authority.find(':') + 1));
    if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
      error = "pushgateway: url '" + url + "' is not http://host[:port]";
      return false;
    }

    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      error = "pushgateway: cannot resolve '" + host + "': " + ::gai_strerror(rc);
      return false;
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addrs(found, &::freeaddrinfo);
    FdCloser sock{::socket(found->ai_family, found->ai_socktype, found->ai_protocol)};
    if (sock.fd < 0) {
      error = std::string("pushgateway: socket(): ") + std::strerror(errno);
      return false;
    }
    // A dead gateway must not hang the supervisor: bound every blocking call.
    timeval timeout{5, 0};
    ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(sock.fd, found->ai_addr, found->ai_addrlen) != 0) {
      error = "pushgateway: cannot connect to " + host + ":" + port + ": " + std::strerror(errno) +
              " (is the Pushgateway running?)";
      return false;
    }

    const std::string body = text_format(registry);
    std::string request = "PUT " + std::string(base_path) + "/metrics/job/" + url_escape(job) +
                          " HTTP/1.1\r\nHost: " + std::string(authority) +
                          "\r\nContent-Type: " + std::string(text_content_type) +
                          "\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n";
    request += body;
    if (!send_all(sock.fd, request)) {
      error = "pushgateway: sending to " + host + ":" + port + " failed: " + std::strerror(errno);
      return false;
    }
    std::string reply;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || reply.size() > 65536) break;
      reply.append(buf, static_cast<std::size_t>(n));
    }
    // "HTTP/1.1 200 OK": the status is the three digits after the first space.
    const auto space = reply.find(' ');
    const int status = space == std::string::npos || reply.size() < space + 4
                           ? 0
                           : std::atoi(reply.substr(space + 1, 3).c_str());
    if (status >= 200 && status < 300) return true;
    const auto body_at = reply.find("\r\n\r\n");
    const std::string detail = body_at == std::string::npos ? "" : reply.substr(body_at + 4, 200);
    error = status == 0 ? "pushgateway: no HTTP reply from " + host + ":" + port
                        : "pushgateway: " + host + ":" + port + " answered HTTP " +
                              std::to_string(status) + (detail.empty() ? "" : ": " + detail);
    return false;
  } catch (const std::exception& e) {
    error = std::string("pushgateway: ") + e.what();
    return false;
  }
}

}  // namespace ferry::exporters
