// The receiving end of the rank streams: a TCP server on one thread (epoll), holding a window of
// recent samples per rank. Hosted by `ferry run`'s supervisor, or by rank 0 in direct mode.
// A rank that disconnects is marked, never fatal; a malformed stream closes only its connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sample.h"

namespace ferry::monitor {

/// What the collector knows of one rank.
struct RankRecord {
  core::Hello hello;
  std::deque<core::Sample> window;   ///< most recent last
  bool connected = false;
  bool finished = false;             ///< its final sample arrived
  bool lost = false;                 ///< disconnected before its final sample
  std::uint64_t samples = 0;
  std::uint64_t gaps = 0;            ///< samples missing by sequence number (dropped in the rank)
  /// Processes this rank has had: a restarted rank (after a migration) is a new one, whose
  /// counts start again from zero; its window starts afresh.
  std::uint32_t incarnation = 0;
};

class Collector {
 public:
  struct Options {
    std::string listen = "0.0.0.0:0";  ///< host:port; port 0 = any free port
    std::size_t window = 300;          ///< samples kept per rank
    /// Control messages from ranks, called on the collector thread (outside its lock).
    std::function<void(std::uint32_t rank, const std::string& json)> on_control;
  };

  Collector() = default;
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  /// Binds and starts serving. On failure returns false with `error` saying why.
  bool start(const Options& options, std::string& error) noexcept;
  void stop() noexcept;
  std::uint16_t port() const noexcept { return port_; }

  /// A copy of every rank's record, by rank.
  std::map<std::uint32_t, RankRecord> snapshot() const;
  /// Like snapshot(), but each window holds only the samples of the last `seconds` (plus the one
  /// before them): what live status needs, at a fraction of the copying done under the lock.
  std::map<std::uint32_t, RankRecord> recent(double seconds) const;
  /// Waits until `ranks` ranks have sent their final sample or `seconds` passed.
  bool wait_finished(std::uint32_t ranks, double seconds);
  /// Waits until no connection is open (the job's processes are gone) or `seconds` passed.
  bool wait_disconnected(double seconds);

  /// Sends a control message to `rank`'s current connection. False when it has none or the
  /// message could not be sent whole within a second.
  bool send_control(std::uint32_t rank, const std::string& json);

  std::uint64_t samples_received() const noexcept { return samples_.load(); }
  std::uint64_t protocol_errors() const noexcept { return errors_.load(); }
  std::size_t connections() const noexcept { return open_.load(); }

 private:
  struct Connection {
    int fd = -1;
    std::string peer;
    std::vector<std::uint8_t> buffer;
    bool has_rank = false;
    std::uint32_t rank = 0;
    RankRecord* record = nullptr;  // ranks_ is a map: records never move
  };
  void run() noexcept;
  void on_readable(Connection& c) noexcept;
  void close_connection(int fd) noexcept;

  Options options_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> samples_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::size_t> open_{0};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint32_t, RankRecord> ranks_;
  std::map<std::uint32_t, int> rank_fd_;  // current connection of each rank, under mutex_
  std::map<int, std::unique_ptr<Connection>> connections_;  // collector thread only
};

/// Every IPv4 address of this host as "a.b.c.d:port", loopback last: what a rank tries in order.
std::string local_addresses(std::uint16_t port);

}  // namespace ferry::monitor
