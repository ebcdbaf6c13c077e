#include "monitor/sampler.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/log.h"
#include "core/wire.h"
#include "monitor/clock.h"
#include "monitor/wrap.h"

namespace ferry::monitor {

namespace {

constexpr std::size_t kMaxOutBytes = 1 << 20;   // a collector that lags this far loses samples
constexpr double kReconnectSeconds = 1.0;
constexpr int kConnectTimeoutMs = 1000;

std::uint64_t resident_bytes() noexcept {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

double cpu_seconds(clockid_t clock) noexcept {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Non-blocking connect with a bounded wait, so an unreachable address costs a second at most.
int connect_to(const std::string& host, const std::string& port) noexcept {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      rc = (::poll(&p, 1, kConnectTimeoutMs) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) ? 0 : -1;
    }
    if (rc != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace

Sampler::Sampler(const Options& options, PapiCounters& papi, Placement& placement)
    : options_(options), papi_(papi), placement_(placement), queue_(options.queue_samples) {}

Sampler::~Sampler() { finish(0); }

bool Sampler::start() noexcept {
  try {
    interval_ticks_ = seconds_to_ticks(options_.interval);
    start_tick_ = ticks();
    app_tid_ = static_cast<pid_t>(syscall(SYS_gettid));
    if (pthread_getcpuclockid(pthread_self(), &app_cpu_clock_) != 0) app_cpu_clock_ = CLOCK_THREAD_CPUTIME_ID;
    cpu_at_start_ = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    detail::g_next_sample.store(start_tick_ + interval_ticks_, std::memory_order_relaxed);
    // The application's signals must keep landing on its own threads.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return true;
  } catch (...) {
    return false;
  }
}

core::Sample Sampler::take(std::uint64_t now, bool on_app_thread, std::uint8_t flags) noexcept {
  core::Sample s;
  const auto& c = detail::g_counters;
  s.rank = options_.hello.rank;
  s.flags = flags;
  s.seq = seq_.fetch_add(1, std::memory_order_relaxed);
  s.time_ns = unix_nanoseconds();
  s.wall = ticks_to_seconds(now - start_tick_);
  const std::uint64_t entered = c.entered.load(std::memory_order_relaxed);
  const std::uint64_t in_call = (entered != 0 && entered < now) ? now - entered : 0;
  s.mpi = std::min(s.wall, ticks_to_seconds(c.total_ticks() + in_call));
  s.calls = c.total_calls();
  s.bytes_sent = c.bytes_sent.get();
  s.bytes_received = c.bytes_received.get();
  s.messages_sent = c.messages_sent.get();
  s.messages_received = c.messages_received.get();
  s.collective_bytes = c.collective_bytes.get();
  s.papi_count = static_cast<std::uint8_t>(papi_.names().size());
  Placement::Location where;
  if (on_app_thread) {
    s.cpu = std::max(0.0, cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_at_start_);
    papi_.read(s.papi.data());
    for (std::size_t i = 0; i < s.papi_count; ++i) last_papi_[i].store(s.papi[i], std::memory_order_relaxed);
    where = placement_.here();
  } else {
    s.cpu = std::max(0.0, cpu_seconds(app_cpu_clock_) - cpu_at_start_);
    for (std::size_t i = 0; i < s.papi_count; ++i) s.papi[i] = last_papi_[i].load(std::memory_order_relaxed);
    where = placement_.of_thread(app_tid_);
  }
  s.core = where.core;
  s.numa = where.numa;
  s.dropped = queue_.dropped();
  return s;
}

void Sampler::at_boundary(std::uint64_t now) noexcept {
  // Under MPI_THREAD_MULTIPLE another thread may be sampling right now; one sample is enough.
  if (boundary_busy_.exchange(true, std::memory_order_acquire)) return;
  detail::g_next_sample.store(now + interval_ticks_, std::memory_order_relaxed);
  queue_.push(take(now, true, 0));
  boundary_busy_.store(false, std::memory_order_release);
}

void Sampler::finish(double flush_seconds) noexcept {
  if (!thread_.joinable()) return;
  try {
    {
      std::lock_guard lock(mutex_);
      final_ = take(ticks(), true, core::kSampleFinal);
      have_final_ = true;
      stop_ = true;
      flush_seconds_ = flush_seconds;
    }
    wake_.notify_all();
    thread_.join();
  } catch (...) {
  }
}

void Sampler::queue_bytes(const core::Sample& sample) noexcept {
  try {
    if (out_.size() > kMaxOutBytes) {
      queue_.count_drop();
      return;
    }
    core::Sample s = sample;
    s.rss = resident_bytes();
    s.dropped = queue_.dropped();
    core::wire::encode(s, out_);
    sent_.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    queue_.count_drop();
  }
}

void Sampler::send_control(const std::string& json) noexcept {
  try {
    {
      std::lock_guard lock(mutex_);
      outbox_.push_back(json);
    }
    wake_.notify_all();
  } catch (...) {
  }
}

void Sampler::take_outbox() noexcept {
  try {
    std::vector<std::string> pending;
    {
      std::lock_guard lock(mutex_);
      pending.swap(outbox_);
    }
    for (const auto& j : pending)
      if (!core::wire::encode(core::wire::Control{j}, out_)) core::log_warn("a control message too long to send was dropped");
  } catch (...) {
  }
}

// Control messages from the supervisor arrive on the same connection, rarely and small.
void Sampler::receive() noexcept {
  try {
    std::uint8_t chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        in_.insert(in_.end(), chunk, chunk + n);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        disconnect();
        return;
      }
      break;
    }
    std::size_t offset = 0;
    while (offset < in_.size()) {
      auto d = core::wire::decode(std::span(in_).subspan(offset));
      if (d.status == core::wire::Decoded::Status::NeedMore) break;
      if (d.status == core::wire::Decoded::Status::Error) {
        core::log_warn("collector sent a bad frame (" + d.error + "); reconnecting");
        disconnect();
        return;
      }
      offset += d.consumed;
      if (auto* c = std::get_if<core::wire::Control>(&d.message); c != nullptr && options_.on_control)
        options_.on_control(c->json);
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(offset));
  } catch (...) {
    disconnect();
  }
}

bool Sampler::connect_collector() noexcept {
  try {
    std::size_t begin = 0;
    const std::string& list = options_.collector;
    while (begin < list.size() && fd_ < 0) {
      std::size_t end = list.find(',', begin);
      if (end == std::string::npos) end = list.size();
      const std::string item = list.substr(begin, end - begin);
      begin = end + 1;
      const std::size_t colon = item.rfind(':');
      if (colon == std::string::npos) continue;
      std::string host = item.substr(0, colon);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      fd_ = connect_to(host, item.substr(colon + 1));
    }
    if (fd_ < 0) return false;
    // A new connection starts with the hello; anything older in out_ belonged to the last one.
    std::vector<std::uint8_t> hello;
    core::wire::encode(options_.hello, hello);
    out_.insert(out_.begin(), hello.begin(), hello.end());
    return true;
  } catch (...) {
    return false;
  }
}

void Sampler::disconnect() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();
  in_.clear();
  next_connect_ = ticks() + seconds_to_ticks(kReconnectSeconds);
}

bool Sampler::flush(int wait_ms) noexcept {
  std::size_t done = 0;
  const std::uint64_t deadline = ticks() + seconds_to_ticks(wait_ms / 1000.0);
  while (fd_ >= 0 && done < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto now = ticks();
      if (wait_ms <= 0 || now >= deadline) break;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(ticks_to_seconds(deadline - now) * 1000) + 1);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    disconnect();  // collector gone: samples are lost, the application is not
    return false;
  }
  if (fd_ >= 0) out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(done));
  return out_.empty();
}

void Sampler::run() noexcept {
  try {
    // The topology is first needed by the sample due after one interval; reading it at the first
    // tick keeps its ~10 ms of CPU out of the ranks' start-up, when they contend most. It is read
    // at normal priority (a short job's MPI_Finalize may wait for it; at nice 19 on a busy node
    // it could take a second); from then on the thread runs at the lowest priority.
    bool placed = false;
    const double tick_seconds = std::min(0.25, options_.interval / 4);
    const std::uint64_t grace = interval_ticks_ / 10;
    std::unique_lock lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::duration<double>(tick_seconds), [&] { return stop_ || !outbox_.empty(); });
      if (stop_) break;
      lock.unlock();
      if (!placed) {
        placement_.load();
        setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
        placed = true;
      }
      clock_refine();
      const std::uint64_t now = ticks();
      if (fd_ < 0 && now >= next_connect_ && !connect_collector())
        next_connect_ = now + seconds_to_ticks(kReconnectSeconds);
      core::Sample s;
      while (queue_.pop(s)) queue_bytes(s);
      // No boundary has taken the due sample: the application is computing (or blocked in one
      // long call). Sample it from here.
      if (now >= detail::g_next_sample.load(std::memory_order_relaxed) + grace) {
        detail::g_next_sample.store(now + interval_ticks_, std::memory_order_relaxed);
        queue_bytes(take(now, false, core::kSampleFromTimer));
      }
      take_outbox();
      if (fd_ >= 0) flush(0);
      else if (out_.size() > kMaxOutBytes) out_.clear();
      if (fd_ >= 0) receive();
      lock.lock();
    }
    const double flush_seconds = flush_seconds_;
    lock.unlock();
    core::Sample s;
    while (queue_.pop(s)) queue_bytes(s);
    if (have_final_) queue_bytes(final_);
    take_outbox();
    if (fd_ < 0) connect_collector();
    flush(static_cast<int>(flush_seconds * 1000));
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_WR);
      ::close(fd_);
      fd_ = -1;
    }
  } catch (...) {
    core::log_warn("sampler stopped after an internal error; this rank's samples end here");
  }
}

}  // namespace ferry::monitor
