// Serving a Registry over HTTP (GET /metrics, via civetweb) and pushing it to a Pushgateway.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "exporters/metrics.h"

struct mg_context;
struct mg_connection;

namespace ferry::exporters {

/// An HTTP endpoint serving one registry at /metrics in text 0.0.4 or OpenMetrics (by Accept).
/// Each request renders afresh from atomics; no lock is held while writing to the socket.
class Exposer {
 public:
  /// Serves `registry`, which must outlive the Exposer (or at least stop()).
  explicit Exposer(std::shared_ptr<const Registry> registry);
  ~Exposer();
  Exposer(const Exposer&) = delete;
  Exposer& operator=(const Exposer&) = delete;

  /// Listens on "host:port" (port 0 picks a free port, see port()). On failure returns false and
  /// fills `error` with what failed and what to try; never throws.
  bool start(const std::string& listen, std::string& error);
  /// Stops serving; waits for in-flight requests. Safe to call twice or without start().
  void stop() noexcept;
  /// The port actually bound (0 when not running).
  std::uint16_t port() const noexcept { return port_; }

 private:
  static int handle_metrics(mg_connection* conn, void* self) noexcept;
  static int handle_not_found(mg_connection* conn, void* self) noexcept;

  std::shared_ptr<const Registry> registry_;
  mg_context* context_ = nullptr;
  std::uint16_t port_ = 0;
};

/// HTTP PUT of text_format(registry) to `<url>/metrics/job/<job>` (Pushgateway "replace" call).
/// `url` is http://host[:port] (IPv4 or hostname; default port 9091). Returns false with `error`
/// set on a bad URL, resolution/connection failure, timeout or a non-2xx reply; never throws.
bool push_to_gateway(const std::string& url, const std::string& job, const Registry& registry,
                     std::string& error);

}  // namespace ferry::exporters
