// Ingest rate of the collector (src/monitor/collector.cc): how many samples per second one
// Collector absorbs when C ranks stream to it at once. The Collector runs in this process on
// 127.0.0.1:0 (its own thread, as in `ferry run`); one load-generator thread (the benchmark
// thread) opens C TCP connections, sends each a Hello (rank i of C) and then sample frames as
// fast as the collector takes them. Only loopback traffic; every run is bounded in time.
//
//   collector_bench [--connections=1000,10000] [--seconds=3] [--warmup=1] [--warmup-max=30]
//                   [--frames-per-send=0] [--inflight-mib=32] [--papi=2] [--window=300]
//                   [--target=100000] [google-benchmark flags, e.g. --benchmark_out=r.json]
//
//   --connections      comma-separated connection counts, one benchmark each
//   --seconds          measured interval
//   --warmup           streaming before it, not counted: at least this long, and on until the
//                      collector has received 2 * window * C samples (its per-rank windows are
//                      full: the steady state of a long job), but never more than --warmup-max
//   --frames-per-send  sample frames per send() call (0 = as many as the socket takes)
//   --inflight-mib     flow control: samples sent but not yet decoded by the collector are kept
//                      below this many MiB, so the kernel never buffers gigabytes
//   --papi             PAPI values per sample (2 = what a rank with PAPI_TOT_INS/CYC sends)
//   --window           the collector's per-rank window (Options::window)
//   --target           the samples/s the final lines compare with
//
// Generator: per connection, a buffer of sample frames (rank i, seq 0..K-1) is encoded once
// with core::wire::encode; it is sent round robin over non-blocking sockets watched by an
// edge-triggered epoll, and each time a buffer has gone out whole its seq fields are advanced by
// K in place, so every rank's stream stays valid and gap-free. samples/s is the increase of
// Collector::samples_received() over --seconds, after --warmup. Afterwards snapshot() must hold
// C ranks, all connected, with 0 gaps, and protocol_errors() must be 0.
//
// Both ends of every connection live in this process: C connections need 2*C descriptors. The
// soft RLIMIT_NOFILE is raised to the hard limit; if that is too low the hard limit is raised
// too when the process may (root / CAP_SYS_RESOURCE), otherwise C is capped, and a line says so.
//
// Counters: samples_per_second, connections, ranks (in the snapshot), min/max_rank_samples
// (fairness over the whole run), collector_cpu and generator_cpu (CPU seconds per second of the
// collector thread and of the generator thread over the measured interval: 1.0 = one busy core),
// MiB_per_second (sample bytes absorbed), warmup_samples_per_second and warmup_seconds (the rate
// while the windows were filling, i.e. while every sample still grew the heap), snapshot_seconds
// (one snapshot() after the run: it copies every window while holding the collector's lock, as
// each `ferry status` request does). The last lines read
//   collector ingest: X samples/s with C connections (target >= 100000)
// one per connection count. Exit status 0 when every run passed its checks and reached the
// target, 1 otherwise, 2 for a usage error.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "core/sample.h"
#include "core/wire.h"
#include "monitor/collector.h"

namespace {

namespace wire = ferry::core::wire;
using ferry::core::Hello;
using ferry::core::Sample;
using ferry::monitor::Collector;

struct Settings {
  std::vector<std::size_t> connections{1000, 10000};
  double seconds = 3;
  double warmup = 1;
  double warmup_max = 30;
  std::size_t frames_per_send = 0;
  double inflight_mib = 32;
  int papi = 2;
  std::size_t window = 300;
  double target = 100000;
};
Settings g_settings;

struct Result {
  std::size_t requested = 0;
  std::size_t connections = 0;
  double rate = 0;
  bool ok = false;
  std::string why;  // what failed, if !ok
};
std::vector<Result> g_results;

constexpr double kConnectTimeout = 30;  // seconds for all connections to be up and accepted
constexpr double kHelloTimeout = 10;    // seconds for the collector to know every rank
constexpr std::size_t kConnectBatch = 256;
constexpr rlim_t kSpareFds = 64;
constexpr std::uint64_t kFillFactor = 2;  // warm-up until samples_received >= 2 * window * C

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds of every thread of this process but the calling one: here, the collector thread.
double other_threads_cpu() {
  const long self = syscall(SYS_gettid);
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || std::atol(e->d_name) == self) continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    char buf[1024];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');  // the name may contain spaces
    if (p == nullptr) continue;
    // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
      total += static_cast<double>(utime + stime) / tick;
  }
  closedir(dir);
  return total;
}

// Makes room for `wanted` connections (2 descriptors each); returns how many fit, with `note`
// saying what was changed or why fewer fit.
std::size_t make_room(std::size_t wanted, std::string& note) {
  const rlim_t need = 2 * static_cast<rlim_t>(wanted) + kSpareFds;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return wanted;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  if (r.rlim_cur >= need) return wanted;
  const rlim_t old_hard = r.rlim_max;
  rlimit raised{need, std::max(need, r.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
    note = "RLIMIT_NOFILE hard limit " + std::to_string(old_hard) + " < " + std::to_string(need) +
           " descriptors needed for " + std::to_string(wanted) + " connections (both ends in this process): raised to " +
           std::to_string(need) + " (this process may raise it; an unprivileged one would have been capped)";
    return wanted;
  }
  const std::size_t fit = r.rlim_cur > kSpareFds ? static_cast<std::size_t>((r.rlim_cur - kSpareFds) / 2) : 0;
  note = "RLIMIT_NOFILE hard limit " + std::to_string(r.rlim_cur) + " allows " + std::to_string(fit) +
         " connections with both ends in this process, not " + std::to_string(wanted) + ": capped to " +
         std::to_string(fit);
  return fit;
}

class Generator {
 public:
  Generator(std::size_t connections, Collector& collector) : conns_(connections), collector_(collector) {}
  ~Generator() { close_all(); }
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Connects every socket, in batches the listen backlog absorbs, each accepted before the next.
  bool connect_all(std::string& error) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return fail(error, "epoll_create1");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(collector_.port());
    const double deadline = now() + kConnectTimeout;
    for (std::size_t begin = 0; begin < conns_.size(); begin += kConnectBatch) {
      const std::size_t end = std::min(conns_.size(), begin + kConnectBatch);
      for (std::size_t i = begin; i < end; ++i) {
        Conn& c = conns_[i];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail(error, "socket() for connection " + std::to_string(i));
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the ranks' sampler does
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
          return fail(error, "connect() for connection " + std::to_string(i));
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLET;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) != 0) return fail(error, "epoll_ctl");
      }
      std::size_t pending = end - begin;
      epoll_event events[1024];
      while (pending > 0) {
        if (now() > deadline) {
          error = std::to_string(pending) + " connections still not established after " +
                  std::to_string(static_cast<int>(kConnectTimeout)) + " s";
          return false;
        }
        const int n = epoll_wait(epoll_, events, 1024, 100);
        for (int k = 0; k < n; ++k) {
          Conn& c = conns_[events[k].data.u32];
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            error = "connection " + std::to_string(events[k].data.u32) + ": " + std::strerror(err);
            return false;
          }
          if (!c.connected) {
            c.connected = true;
            --pending;
          }
          push_ready(events[k].data.u32);
        }
      }
      while (collector_.connections() < end) {
        if (now() > deadline) {
          error = "the collector accepted " + std::to_string(collector_.connections()) + " of " + std::to_string(end) +
                  " connections within " + std::to_string(static_cast<int>(kConnectTimeout)) + " s";
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return true;
  }

  // Hello "rank i of C" on every connection, then waits until the collector knows every rank.
  bool send_hellos(std::string& error) {
    std::vector<std::uint8_t> bytes;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Hello h;
      h.job = "collector-bench";
      h.rank = static_cast<std::uint32_t>(i);
      h.size = static_cast<std::uint32_t>(conns_.size());
      h.node = "bench-node-" + std::to_string(i % 64);
      h.pid = static_cast<std::int32_t>(getpid());
      static const char* const kEvents[] = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_L3_TCM", "PAPI_BR_MSP",
                                            "PAPI_FP_OPS", "PAPI_L1_DCM", "PAPI_L2_DCM", "PAPI_TLB_DM"};
      for (int e = 0; e < g_settings.papi; ++e) h.papi_events.push_back(kEvents[e]);
      bytes.clear();
      wire::encode(h, bytes);
      // A fresh socket takes a ~100-byte hello at once; anything else is an error here.
      const ssize_t n = ::send(conns_[i].fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n != static_cast<ssize_t>(bytes.size())) {
        error = "hello on connection " + std::to_string(i) + ": " +
                (n < 0 ? std::string(std::strerror(errno)) : "short write");
        return false;
      }
    }
    const double deadline = now() + kHelloTimeout;
    for (;;) {
      const std::size_t known = collector_.snapshot().size();
      if (known == conns_.size()) return true;
      if (now() > deadline) {
        error = "the collector knows " + std::to_string(known) + " of " + std::to_string(conns_.size()) +
                " ranks " + std::to_string(static_cast<int>(kHelloTimeout)) + " s after the hellos";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Encodes every connection's buffer of sample frames. Returns false if the frame layout is not
  // what the seq patching needs (all frames of one size, seq found in the frame).
  bool build_buffers(std::string& error) {
    const std::size_t n = conns_.size();
    // ~64 MiB of buffers in all, 4..64 KiB per connection.
    const std::size_t per_conn = std::clamp<std::size_t>((64u << 20) / n, 4u << 10, 64u << 10);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const auto base_ns = static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());

    Sample probe = make_sample(0, 0, cores, base_ns);
    constexpr std::uint64_t kMarker = 0x1122334455667788ull;
    probe.seq = kMarker;
    std::vector<std::uint8_t> bytes;
    wire::encode(probe, bytes);
    frame_ = bytes.size();
    seq_offset_ = frame_;
    for (std::size_t at = 0; at + 8 <= bytes.size(); ++at)
      if (std::memcmp(bytes.data() + at, &kMarker, 8) == 0) seq_offset_ = at;
    if (seq_offset_ == frame_) {
      error = "cannot find the seq field in an encoded sample";
      return false;
    }
    frames_per_buffer_ = std::max<std::size_t>(1, per_conn / frame_);
    for (std::size_t i = 0; i < n; ++i) {
      Conn& c = conns_[i];
      c.buf.clear();
      c.buf.reserve(frames_per_buffer_ * frame_);
      for (std::size_t k = 0; k < frames_per_buffer_; ++k) {
        wire::encode(make_sample(static_cast<std::uint32_t>(i), k, cores, base_ns), c.buf);
        if (c.buf.size() != (k + 1) * frame_) {
          error = "sample frames differ in size";
          return false;
        }
      }
    }
    per_send_bytes_ = g_settings.frames_per_send == 0 ? SIZE_MAX : g_settings.frames_per_send * frame_;
    budget_frames_ = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(g_settings.inflight_mib * (1 << 20)) / frame_);
    return true;
  }

  // Streams samples for `seconds`.
  bool run(double seconds, std::string& error) {
    const double end = now() + seconds;
    epoll_event events[1024];
    for (;;) {
      if (now() >= end) return true;
      const int n = epoll_wait(epoll_, events, 1024, ready_.empty() ? 1 : 0);
      for (int k = 0; k < n; ++k) {
        if (events[k].events & (EPOLLERR | EPOLLHUP)) {
          error = "connection " + std::to_string(events[k].data.u32) + " was closed by the collector";
          return false;
        }
        push_ready(events[k].data.u32);
      }
      // Flow control: at most budget_frames_ samples between the kernel and the collector's decoder.
      const std::uint64_t received = collector_.samples_received();
      const std::uint64_t sent = sent_frames();
      const std::uint64_t in_flight = sent > received ? sent - received : 0;
      if (in_flight >= budget_frames_) {
        timespec pause{0, 100000};
        nanosleep(&pause, nullptr);
        continue;
      }
      std::uint64_t budget_bytes = (budget_frames_ - in_flight) * frame_;
      for (std::size_t round = ready_.size(), k = 0; round > 0 && budget_bytes > 0; --round, ++k) {
        if ((k & 255) == 255 && now() >= end) return true;
        const std::uint32_t idx = ready_.front();
        ready_.pop_front();
        Conn& c = conns_[idx];
        const std::size_t len = std::min<std::size_t>({c.buf.size() - c.off, per_send_bytes_, budget_bytes});
        const ssize_t sent_now = ::send(c.fd, c.buf.data() + c.off, len, MSG_NOSIGNAL);
        if (sent_now > 0) {
          const auto s = static_cast<std::size_t>(sent_now);
          c.off += s;
          sample_bytes_ += s;
          budget_bytes -= std::min<std::uint64_t>(budget_bytes, s);
          if (c.off == c.buf.size()) advance(c);
          // A short write means the socket is full: the edge-triggered EPOLLOUT brings it back.
          if (s == len) ready_.push_back(idx);
          else c.ready = false;
        } else if (sent_now < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          c.ready = false;
        } else if (sent_now < 0 && errno == EINTR) {
          ready_.push_back(idx);
        } else {
          error = "send on connection " + std::to_string(idx) + ": " +
                  (sent_now < 0 ? std::strerror(errno) : "returned 0");
          return false;
        }
      }
    }
  }

  // Resets every connection (SO_LINGER 0: no TIME_WAIT left behind, so runs can follow each other).
  void close_all() {
    for (Conn& c : conns_) {
      if (c.fd < 0) continue;
      linger l{1, 0};
      setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(c.fd);
      c.fd = -1;
    }
    if (epoll_ >= 0) ::close(epoll_);
    epoll_ = -1;
  }

  std::uint64_t sent_frames() const { return frame_ ? sample_bytes_ / frame_ : 0; }
  std::size_t frame_bytes() const { return frame_; }
  std::size_t frames_per_buffer() const { return frames_per_buffer_; }

 private:
  struct Conn {
    int fd = -1;
    std::vector<std::uint8_t> buf;  // frames_per_buffer_ sample frames of this connection's rank
    std::size_t off = 0;            // next byte of buf to send
    bool connected = false;
    bool ready = false;             // in ready_ (believed writable)
  };

  static Sample make_sample(std::uint32_t rank, std::uint64_t seq, unsigned cores, std::int64_t base_ns) {
    Sample s;
    s.rank = rank;
    s.core = static_cast<std::int32_t>(rank % cores);
    s.numa = 0;
    s.flags = ferry::core::kSampleFromTimer;
    s.papi_count = static_cast<std::uint8_t>(g_settings.papi);
    s.seq = seq;
    const double t = static_cast<double>(seq);
    s.time_ns = base_ns + static_cast<std::int64_t>(seq) * 1000000000;
    s.wall = t;
    s.mpi = 0.25 * t;
    s.cpu = 0.9 * t;
    s.calls = 1000 * seq;
    s.bytes_sent = s.bytes_received = 1u << 20;
    s.messages_sent = s.messages_received = 100 * seq;
    s.collective_bytes = 4096 * seq;
    s.rss = 256u << 20;
    for (int e = 0; e < g_settings.papi; ++e) s.papi[e] = static_cast<std::int64_t>(1000000 * seq + e);
    return s;
  }

  void push_ready(std::uint32_t idx) {
    if (conns_[idx].ready) return;
    conns_[idx].ready = true;
    ready_.push_back(idx);
  }

  // The whole buffer went out: the next copy continues the rank's sequence.
  void advance(Conn& c) {
    for (std::size_t at = seq_offset_; at < c.buf.size(); at += frame_) {
      std::uint64_t seq;
      std::memcpy(&seq, c.buf.data() + at, 8);
      seq += frames_per_buffer_;
      std::memcpy(c.buf.data() + at, &seq, 8);
    }
    c.off = 0;
  }

  static bool fail(std::string& error, const std::string& what) {
    error = what + ": " + std::strerror(errno);
    return false;
  }

  std::vector<Conn> conns_;
  Collector& collector_;
  int epoll_ = -1;
  std::deque<std::uint32_t> ready_;
  std::size_t frame_ = 0;
  std::size_t seq_offset_ = 0;
  std::size_t frames_per_buffer_ = 1;
  std::size_t per_send_bytes_ = SIZE_MAX;
  std::uint64_t budget_frames_ = 1;
  std::uint64_t sample_bytes_ = 0;  // sample bytes accepted by the kernel
};

void BM_CollectorIngest(benchmark::State& state, std::size_t requested) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  Result result;
  result.requested = requested;
  result.connections = connections;
  auto skip = [&](const std::string& why) {
    result.why = why;
    g_results.push_back(result);
    state.SkipWithError(why.c_str());
  };

  Collector collector;
  std::string error;
  Collector::Options options;
  options.listen = "127.0.0.1:0";
  options.window = g_settings.window;
  if (!collector.start(options, error)) return skip(error);
  Generator gen(connections, collector);
  if (!gen.build_buffers(error) || !gen.connect_all(error) || !gen.send_hellos(error)) return skip(error);

  double rate = 0, fill_rate = 0, warmup_seconds = 0, collector_cpu = 0, generator_cpu = 0, mib_per_s = 0;
  bool streamed = true;
  for (auto _ : state) {
    // Warm-up: --warmup seconds, and on until the windows are full (a new sample then frees the
    // oldest one instead of growing the heap) -- the steady state of a long job -- within limits.
    const double w0 = now();
    const std::uint64_t fill = static_cast<std::uint64_t>(connections) * g_settings.window * kFillFactor;
    while (streamed) {
      const double elapsed = now() - w0;
      if (elapsed >= g_settings.warmup_max || (elapsed >= g_settings.warmup && collector.samples_received() >= fill))
        break;
      streamed = gen.run(0.05, error);
    }
    if (!streamed) break;
    warmup_seconds = now() - w0;
    fill_rate = static_cast<double>(collector.samples_received()) / warmup_seconds;
    const std::uint64_t r0 = collector.samples_received();
    const double t0 = now(), c0 = other_threads_cpu(), g0 = thread_cpu();
    if (!gen.run(g_settings.seconds, error)) {
      streamed = false;
      break;
    }
    const std::uint64_t r1 = collector.samples_received();
    const double t1 = now(), c1 = other_threads_cpu(), g1 = thread_cpu();
    state.SetIterationTime(t1 - t0);
    rate = static_cast<double>(r1 - r0) / (t1 - t0);
    collector_cpu = (c1 - c0) / (t1 - t0);
    generator_cpu = (g1 - g0) / (t1 - t0);
    mib_per_s = rate * static_cast<double>(gen.frame_bytes()) / (1 << 20);
  }
  if (!streamed) return skip(error);

  // Every rank known and connected, no sequence gaps, no malformed frame. snapshot() copies every
  // window under the collector's lock (as each `ferry status` does): its duration is a counter.
  const double s0 = now();
  const auto snapshot = collector.snapshot();
  const double snapshot_seconds = now() - s0;
  std::size_t connected = 0;
  std::uint64_t gaps = 0, min_samples = UINT64_MAX, max_samples = 0;
  for (const auto& [rank, record] : snapshot) {
    connected += record.connected ? 1 : 0;
    gaps += record.gaps;
    min_samples = std::min(min_samples, record.samples);
    max_samples = std::max(max_samples, record.samples);
  }
  if (snapshot.empty()) min_samples = 0;
  std::string why;
  if (snapshot.size() != connections)
    why = "snapshot has " + std::to_string(snapshot.size()) + " ranks, expected " + std::to_string(connections);
  else if (connected != connections)
    why = std::to_string(connections - connected) + " ranks not connected";
  else if (gaps != 0)
    why = std::to_string(gaps) + " sequence gaps";
  else if (collector.protocol_errors() != 0)
    why = std::to_string(collector.protocol_errors()) + " protocol errors";
  else if (collector.connections() != connections)
    why = "collector has " + std::to_string(collector.connections()) + " open connections";

  state.counters["samples_per_second"] = benchmark::Counter(rate);
  state.counters["connections"] = benchmark::Counter(static_cast<double>(connections));
  state.counters["ranks"] = benchmark::Counter(static_cast<double>(snapshot.size()));
  state.counters["min_rank_samples"] = benchmark::Counter(static_cast<double>(min_samples));
  state.counters["max_rank_samples"] = benchmark::Counter(static_cast<double>(max_samples));
  state.counters["collector_cpu"] = benchmark::Counter(collector_cpu);
  state.counters["generator_cpu"] = benchmark::Counter(generator_cpu);
  state.counters["MiB_per_second"] = benchmark::Counter(mib_per_s);
  state.counters["warmup_samples_per_second"] = benchmark::Counter(fill_rate);
  state.counters["warmup_seconds"] = benchmark::Counter(warmup_seconds);
  state.counters["snapshot_seconds"] = benchmark::Counter(snapshot_seconds);
  state.SetLabel(std::to_string(gen.frame_bytes()) + " B/sample, " + std::to_string(gen.frames_per_buffer()) +
                 " samples/buffer" + (why.empty() ? "" : ", CHECK FAILED: " + why));

  gen.close_all();
  collector.stop();
  result.rate = rate;
  result.ok = why.empty();
  result.why = why;
  g_results.push_back(result);
}

bool parse_number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && out >= 0;
}

// Takes this binary's own flags out of argv; returns false (after a message) on a bad one.
bool parse_flags(int& argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq), value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    double v = 0;
    bool ok = true;
    if (name == "--connections") {
      g_settings.connections.clear();
      std::size_t b = 0;
      while (ok && b <= value.size()) {
        const std::size_t e = std::min(value.find(',', b), value.size());
        ok = parse_number(value.substr(b, e - b), v) && v >= 1 && v <= 1000000 && v == static_cast<double>(static_cast<std::size_t>(v));
        if (ok) g_settings.connections.push_back(static_cast<std::size_t>(v));
        b = e + 1;
      }
    } else if (name == "--seconds") {
      ok = parse_number(value, g_settings.seconds) && g_settings.seconds > 0 && g_settings.seconds <= 600;
    } else if (name == "--warmup") {
      ok = parse_number(value, g_settings.warmup) && g_settings.warmup <= 600;
    } else if (name == "--warmup-max") {
      ok = parse_number(value, g_settings.warmup_max) && g_settings.warmup_max <= 600;
    } else if (name == "--frames-per-send") {
      ok = parse_number(value, v) && v <= 100000;
      g_settings.frames_per_send = static_cast<std::size_t>(v);
    } else if (name == "--inflight-mib") {
      ok = parse_number(value, g_settings.inflight_mib) && g_settings.inflight_mib > 0;
    } else if (name == "--papi") {
      ok = parse_number(value, v) && v <= static_cast<double>(ferry::core::kMaxPapiEvents);
      g_settings.papi = static_cast<int>(v);
    } else if (name == "--window") {
      ok = parse_number(value, v) && v >= 1;
      g_settings.window = static_cast<std::size_t>(v);
    } else if (name == "--target") {
      ok = parse_number(value, g_settings.target);
    } else {
      argv[kept++] = argv[i];  // google benchmark's, or unknown (it reports those)
      continue;
    }
    if (!ok || eq == std::string::npos) {
      std::fprintf(stderr, "collector_bench: bad value in \"%s\"\n", arg.c_str());
      return false;
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!parse_flags(argc, argv)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  const std::size_t largest = *std::max_element(g_settings.connections.begin(), g_settings.connections.end());
  std::string note;
  const std::size_t fit = make_room(largest, note);
  if (!note.empty()) std::printf("collector_bench: %s\n", note.c_str());
  if (fit == 0) {
    std::fprintf(stderr, "collector_bench: no descriptors for any connection\n");
    return 1;
  }
  std::printf("collector_bench: %.3g s measured after a warm-up of %.3g..%.3g s (until the windows are full) "
              "per run, 1 generator thread, frames per send: %s, in flight <= %.3g MiB, %d PAPI values/sample, "
              "window %zu, %u cores\n",
              g_settings.seconds, g_settings.warmup, g_settings.warmup_max,
              g_settings.frames_per_send ? std::to_string(g_settings.frames_per_send).c_str() : "as many as fit",
              g_settings.inflight_mib, g_settings.papi, g_settings.window, std::thread::hardware_concurrency());
  std::fflush(stdout);
  for (const std::size_t wanted : g_settings.connections) {
    const std::size_t c = std::min(wanted, fit);
    benchmark::RegisterBenchmark("collector_ingest", BM_CollectorIngest, wanted)
        ->Arg(static_cast<std::int64_t>(c))
        ->ArgName("connections")
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kSecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  bool all_good = !g_results.empty();
  std::fflush(stdout);
  for (const Result& r : g_results) {
    if (r.connections != r.requested)
      std::printf("collector_bench: %zu connections requested, %zu used (descriptor limit)\n", r.requested, r.connections);
    if (!r.ok) std::printf("collector_bench: %zu connections: FAILED: %s\n", r.connections, r.why.c_str());
    else
      std::printf("collector_bench: %zu connections: checks passed (%zu ranks in snapshot, all connected, "
                  "0 gaps, 0 protocol errors); %s\n",
                  r.connections, r.connections, r.rate >= g_settings.target ? "target met" : "BELOW TARGET");
    all_good = all_good && r.ok && r.rate >= g_settings.target;
  }
  for (const Result& r : g_results)
    std::printf("collector ingest: %.0f samples/s with %zu connections (target >= %.0f)\n", r.rate, r.connections,
                g_settings.target);
  return all_good ? 0 : 1;
}
