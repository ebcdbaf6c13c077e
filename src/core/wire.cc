#include "core/wire.h"

#include <bit>
#include <cstring>

static_assert(std::endian::native == std::endian::little, "ferry's wire format assumes little-endian hosts");

namespace ferry::core::wire {

namespace {

inline constexpr std::size_t kMaxString = 1024;

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    const auto n = static_cast<std::uint16_t>(std::min(s.size(), kMaxString));
    put(n);
    out_.insert(out_.end(), s.begin(), s.begin() + n);
  }
  std::size_t size() const { return out_.size(); }
  void patch_u32(std::size_t at, std::uint32_t v) { std::memcpy(out_.data() + at, &v, 4); }

 private:
  std::vector<std::uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  template <class T>
  bool get(T& v) {
    if (in_.size() - pos_ < sizeof(T)) return fail("truncated");
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_string(std::string& s) {
    std::uint16_t n = 0;
    if (!get(n)) return false;
    if (n > kMaxString) return fail("string of " + std::to_string(n) + " bytes (max " + std::to_string(kMaxString) + ")");
    if (in_.size() - pos_ < n) return fail("truncated string");
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  /// Everything left in the frame, as text.
  void get_rest(std::string& s) {
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), in_.size() - pos_);
    pos_ = in_.size();
  }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  bool at_end() const { return pos_ == in_.size(); }
  const std::string& error() const { return error_; }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::size_t begin_frame(Writer& w, FrameType type) {
  w.put(kMagic);
  w.put(kVersion);
  w.put(static_cast<std::uint16_t>(type));
  const std::size_t at = w.size();
  w.put(std::uint32_t{0});
  return at;
}

void end_frame(Writer& w, std::size_t length_at) {
  w.patch_u32(length_at, static_cast<std::uint32_t>(w.size() - length_at - 4));
}

bool read_hello(Reader& r, Hello& h) {
  std::uint8_t n = 0;
  if (!(r.get_string(h.job) && r.get(h.rank) && r.get(h.size) && r.get_string(h.node) && r.get(h.pid) && r.get(n)))
    return false;
  if (n > kMaxPapiEvents) return r.fail("hello lists " + std::to_string(n) + " PAPI events (max " + std::to_string(kMaxPapiEvents) + ")");
  h.papi_events.resize(n);
  for (auto& e : h.papi_events)
    if (!r.get_string(e)) return false;
  if (h.size == 0 || h.rank >= h.size)
    return r.fail("hello has rank " + std::to_string(h.rank) + " of a job of " + std::to_string(h.size) + " ranks");
  return true;
}

bool read_sample(Reader& r, Sample& s) {
  if (!(r.get(s.rank) && r.get(s.core) && r.get(s.numa) && r.get(s.flags) && r.get(s.papi_count) &&
        r.get(s.seq) && r.get(s.time_ns) && r.get(s.wall) && r.get(s.mpi) && r.get(s.cpu) && r.get(s.calls) &&
        r.get(s.bytes_sent) && r.get(s.bytes_received) && r.get(s.messages_sent) &&
        r.get(s.messages_received) && r.get(s.collective_bytes) && r.get(s.rss) && r.get(s.dropped)))
    return false;
  if (s.papi_count > kMaxPapiEvents)
    return r.fail("sample carries " + std::to_string(s.papi_count) + " PAPI values (max " + std::to_string(kMaxPapiEvents) + ")");
  for (std::size_t i = 0; i < s.papi_count; ++i)
    if (!r.get(s.papi[i])) return false;
  // NaN fails every comparison, so these also reject it.
  if (!(s.wall >= 0 && s.mpi >= 0 && s.cpu >= 0)) return r.fail("sample has a negative or NaN time");
  return true;
}

}  // namespace

void encode(const Hello& h, std::vector<std::uint8_t>& out) {
  Writer w(out);
  const auto at = begin_frame(w, FrameType::Hello);
  w.put_string(h.job);
  w.put(h.rank);
  w.put(h.size);
  w.put_string(h.node);
  w.put(h.pid);
  const auto n = static_cast<std::uint8_t>(std::min(h.papi_events.size(), kMaxPapiEvents));
  w.put(n);
  for (std::size_t i = 0; i < n; ++i) w.put_string(h.papi_events[i]);
  end_frame(w, at);
}

void encode(const Sample& s, std::vector<std::uint8_t>& out) {
  Writer w(out);
  const auto at = begin_frame(w, FrameType::Sample);
  const auto n = static_cast<std::uint8_t>(std::min<std::size_t>(s.papi_count, kMaxPapiEvents));
  w.put(s.rank);
  w.put(s.core);
  w.put(s.numa);
  w.put(s.flags);
  w.put(n);
  w.put(s.seq);
  w.put(s.time_ns);
  w.put(s.wall);
  w.put(s.mpi);
  w.put(s.cpu);
  w.put(s.calls);
  w.put(s.bytes_sent);
  w.put(s.bytes_received);
  w.put(s.messages_sent);
  w.put(s.messages_received);
  w.put(s.collective_bytes);
  w.put(s.rss);
  w.put(s.dropped);
  for (std::size_t i = 0; i < n; ++i) w.put(s.papi[i]);
  end_frame(w, at);
}

bool encode(const Control& c, std::vector<std::uint8_t>& out) {
  if (c.json.size() > kMaxPayload) return false;
  Writer w(out);
  const auto at = begin_frame(w, FrameType::Control);
  out.insert(out.end(), c.json.begin(), c.json.end());
  end_frame(w, at);
  return true;
}

Decoded decode(std::span<const std::uint8_t> bytes) {
  Decoded d;
  if (bytes.size() < kHeaderBytes) return d;
  std::uint32_t magic = 0, length = 0;
  std::uint16_t version = 0, type = 0;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 2);
  std::memcpy(&type, bytes.data() + 6, 2);
  std::memcpy(&length, bytes.data() + 8, 4);
  auto error = [&](std::string why) {
    d.status = Decoded::Status::Error;
    d.error = std::move(why);
    return d;
  };
  if (magic != kMagic) return error("not a ferry stream (bad magic)");
  if (version != kVersion)
    return error("wire version " + std::to_string(version) + " (this ferry speaks " + std::to_string(kVersion) + ")");
  if (length > kMaxPayload)
    return error("frame of " + std::to_string(length) + " bytes (max " + std::to_string(kMaxPayload) + ")");
  if (bytes.size() < kHeaderBytes + length) return d;

  Reader r(bytes.subspan(kHeaderBytes, length));
  bool ok = false;
  if (type == static_cast<std::uint16_t>(FrameType::Hello)) {
    Hello h;
    ok = read_hello(r, h);
    d.message = std::move(h);
  } else if (type == static_cast<std::uint16_t>(FrameType::Sample)) {
    Sample s;
    ok = read_sample(r, s);
    d.message = s;
  } else if (type == static_cast<std::uint16_t>(FrameType::Control)) {
    // Its JSON is checked by whoever acts on it; here only that it is text at all.
    Control c;
    r.get_rest(c.json);
    ok = c.json.find('\0') == std::string::npos || r.fail("control frame holds a NUL byte");
    d.message = std::move(c);
  } else {
    return error("unknown frame type " + std::to_string(type) + " (hello = 1, sample = 2, control = 3)");
  }
  if (!ok) return error(r.error());
  if (!r.at_end()) return error("frame has " + std::to_string(length) + " bytes, more than its fields");
  d.status = Decoded::Status::Ok;
  d.consumed = kHeaderBytes + length;
  return d;
}

}  // namespace ferry::core::wire
