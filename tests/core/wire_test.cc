#include "core/wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ferry::core::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Status = Decoded::Status;

// Header layout (see wire.h): u32 magic | u16 version | u16 type | u32 payload length.
constexpr std::size_t kMagicAt = 0;
constexpr std::size_t kVersionAt = 4;
constexpr std::size_t kTypeAt = 6;
constexpr std::size_t kLengthAt = 8;

// Sample payload offsets, from the field order in wire.cc. Corrupt frames are built by patching
// these, so a reordering of the encoder shows up here as a failing test rather than silently.
constexpr std::size_t kSamplePapiCountAt = kHeaderBytes + 13;
constexpr std::size_t kSampleFixedBytes = 118;  // everything before the papi values

template <class T>
void patch(Bytes& b, std::size_t at, T v) {
  ASSERT_LE(at + sizeof(T), b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

template <class T>
T peek(const Bytes& b, std::size_t at) {
  T v{};
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

Hello full_hello() {
  Hello h;
  h.job = "cfd-run-17";
  h.rank = 3;
  h.size = 16;
  h.node = "node042.cluster";
  h.pid = 123456;
  h.papi_events = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_L1_DCM", "PAPI_L2_DCM",
                   "PAPI_L3_TCM", "PAPI_BR_MSP", "PAPI_FP_OPS", "PAPI_VEC_DP"};
  return h;
}

Sample full_sample() {
  Sample s;
  s.rank = 7;
  s.core = 12;
  s.numa = 1;
  s.flags = kSampleFromTimer | kSampleFinal;
  s.papi_count = static_cast<std::uint8_t>(kMaxPapiEvents);
  s.seq = 0x0102030405060708ull;
  s.time_ns = 1'700'000'000'123'456'789ll;
  s.wall = 123.456;
  s.mpi = 23.25;
  s.cpu = 99.875;
  s.calls = 1'000'001;
  s.bytes_sent = (1ull << 40) + 3;
  s.bytes_received = (1ull << 41) + 5;
  s.messages_sent = 4242;
  s.messages_received = 4343;
  s.collective_bytes = (1ull << 50) + 11;
  s.rss = 512ull << 20;
  s.dropped = 9;
  // Distinct values, including negative and extreme ones, so a shifted or swapped slot shows.
  s.papi = {1, -2, 300, std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
            0, 77, -88};
  return s;
}

Bytes encoded(const Hello& h) {
  Bytes b;
  encode(h, b);
  return b;
}

Bytes encoded(const Sample& s) {
  Bytes b;
  encode(s, b);
  return b;
}

void expect_same(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.papi_events, b.papi_events);
}

void expect_same(const Sample& a, const Sample& b) {
  EXPECT_EQ(a.rank, b.rank);
  EXPECT_EQ(a.core, b.core);
  EXPECT_EQ(a.numa, b.numa);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.papi_count, b.papi_count);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.time_ns, b.time_ns);
  // Doubles travel as raw bits, so they must come back exactly, not approximately.
  EXPECT_EQ(a.wall, b.wall);
  EXPECT_EQ(a.mpi, b.mpi);
  EXPECT_EQ(a.cpu, b.cpu);
  EXPECT_EQ(a.calls, b.calls);
  EXPECT_EQ(a.bytes_sent, b.bytes_sent);
  EXPECT_EQ(a.bytes_received, b.bytes_received);
  EXPECT_EQ(a.messages_sent, b.messages_sent);
  EXPECT_EQ(a.messages_received, b.messages_received);
  EXPECT_EQ(a.collective_bytes, b.collective_bytes);
  EXPECT_EQ(a.rss, b.rss);
  EXPECT_EQ(a.dropped, b.dropped);
  for (std::size_t i = 0; i < a.papi_count && i < b.papi_count; ++i) EXPECT_EQ(a.papi[i], b.papi[i]) << "papi[" << i << "]";
}

Decoded decode_bytes(const Bytes& b) { return decode(std::span<const std::uint8_t>(b.data(), b.size())); }

// Decodes a frame that must be rejected and returns the reason.
std::string error_of(const Bytes& b) {
  const Decoded d = decode_bytes(b);
  EXPECT_EQ(d.status, Status::Error) << "frame was not rejected";
  EXPECT_FALSE(d.error.empty()) << "rejected without saying why";
  EXPECT_EQ(d.consumed, 0u) << "a rejected frame must not be consumed";
  return d.error;
}

// Changes the declared payload length by `delta` and adds or removes bytes at the end so the
// buffer holds exactly the declared frame: the frame is complete, only its fields disagree.
void resize_payload(Bytes& b, long delta) {
  const auto length = peek<std::uint32_t>(b, kLengthAt);
  const auto new_length = static_cast<std::uint32_t>(static_cast<long>(length) + delta);
  patch(b, kLengthAt, new_length);
  b.resize(kHeaderBytes + new_length, 0xAB);
}

// ---- round trips ----------------------------------------------------------------------------

TEST(WireRoundTrip, HelloAllFields) {
  const Hello h = full_hello();
  const Bytes b = encoded(h);
  ASSERT_GE(b.size(), kHeaderBytes);
  EXPECT_EQ(peek<std::uint32_t>(b, kMagicAt), kMagic);
  EXPECT_EQ(peek<std::uint16_t>(b, kVersionAt), kVersion);
  EXPECT_EQ(peek<std::uint16_t>(b, kTypeAt), static_cast<std::uint16_t>(FrameType::Hello));
  EXPECT_EQ(peek<std::uint32_t>(b, kLengthAt), b.size() - kHeaderBytes);

  const Decoded d = decode_bytes(b);
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  EXPECT_EQ(d.consumed, b.size());
  ASSERT_TRUE(std::holds_alternative<Hello>(d.message));
  expect_same(std::get<Hello>(d.message), h);
}

TEST(WireRoundTrip, HelloWithEmptyStringsAndNoEvents) {
  // The smallest legal hello: the decoder must not confuse empty strings with missing ones.
  Hello h;
  h.rank = 0;
  h.size = 1;
  h.pid = -1;
  const Decoded d = decode_bytes(encoded(h));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  expect_same(std::get<Hello>(d.message), h);
}

TEST(WireRoundTrip, HelloLastRankIsValid) {
  // rank == size - 1 is the boundary the rank check must accept.
  Hello h = full_hello();
  h.rank = h.size - 1;
  const Decoded d = decode_bytes(encoded(h));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  EXPECT_EQ(std::get<Hello>(d.message).rank, h.size - 1);
}

TEST(WireRoundTrip, HelloWithMaximalStringAndEvents) {
  Hello h = full_hello();
  h.node = std::string(1024, 'n');
  h.papi_events.assign(kMaxPapiEvents, std::string(1024, 'e'));
  const Decoded d = decode_bytes(encoded(h));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  expect_same(std::get<Hello>(d.message), h);
}

TEST(WireRoundTrip, EncoderClampsWhatTheDecoderWouldReject) {
  // The encoder truncates over-long strings and event lists instead of writing a frame its own
  // decoder refuses: a rank with a silly hostname must still be heard.
  Hello h = full_hello();
  h.job = std::string(5000, 'j');
  h.papi_events.assign(kMaxPapiEvents + 3, "EV");
  const Decoded d = decode_bytes(encoded(h));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  const auto& got = std::get<Hello>(d.message);
  EXPECT_EQ(got.job, std::string(1024, 'j'));
  EXPECT_EQ(got.papi_events.size(), kMaxPapiEvents);
}

TEST(WireRoundTrip, SampleAllFields) {
  const Sample s = full_sample();
  const Bytes b = encoded(s);
  EXPECT_EQ(peek<std::uint16_t>(b, kTypeAt), static_cast<std::uint16_t>(FrameType::Sample));
  EXPECT_EQ(b.size(), kHeaderBytes + kSampleFixedBytes + 8 * kMaxPapiEvents);

  const Decoded d = decode_bytes(b);
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  EXPECT_EQ(d.consumed, b.size());
  ASSERT_TRUE(std::holds_alternative<Sample>(d.message));
  expect_same(std::get<Sample>(d.message), s);
}

TEST(WireRoundTrip, SampleWithoutPapiSendsNoPapiValues) {
  Sample s = full_sample();
  s.papi_count = 0;
  const Bytes b = encoded(s);
  EXPECT_EQ(b.size(), kHeaderBytes + kSampleFixedBytes);
  const Decoded d = decode_bytes(b);
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  const auto& got = std::get<Sample>(d.message);
  expect_same(got, s);
  // Values not sent must not be invented.
  for (auto v : got.papi) EXPECT_EQ(v, 0);
}

TEST(WireRoundTrip, SamplePartialPapi) {
  Sample s = full_sample();
  s.papi_count = 3;
  const Decoded d = decode_bytes(encoded(s));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  const auto& got = std::get<Sample>(d.message);
  EXPECT_EQ(got.papi_count, 3);
  EXPECT_EQ(got.papi[0], 1);
  EXPECT_EQ(got.papi[1], -2);
  EXPECT_EQ(got.papi[2], 300);
  EXPECT_EQ(got.papi[3], 0);
}

TEST(WireRoundTrip, SampleZeroTimesAreValid) {
  // A sample taken right at MPI_Init has zero times: "non-negative", not "positive".
  Sample s = full_sample();
  s.wall = s.mpi = s.cpu = 0;
  const Decoded d = decode_bytes(encoded(s));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  expect_same(std::get<Sample>(d.message), s);
}

TEST(WireRoundTrip, EncodeAppends) {
  // The sender batches frames into one buffer: encode must append, never overwrite.
  Bytes b = {0xDE, 0xAD};
  encode(full_sample(), b);
  ASSERT_GT(b.size(), 2u);
  EXPECT_EQ(b[0], 0xDE);
  EXPECT_EQ(b[1], 0xAD);
  const Decoded d = decode(std::span<const std::uint8_t>(b).subspan(2));
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  EXPECT_EQ(d.consumed, b.size() - 2);
}

// ---- streams --------------------------------------------------------------------------------

TEST(WireStream, BackToBackFramesDecodeOneByOne) {
  const Hello h = full_hello();
  std::vector<Sample> samples;
  Bytes stream;
  std::vector<std::size_t> sizes;
  encode(h, stream);
  sizes.push_back(stream.size());
  for (int i = 0; i < 5; ++i) {
    Sample s = full_sample();
    s.seq = static_cast<std::uint64_t>(i);
    s.papi_count = static_cast<std::uint8_t>(i);  // different frame sizes
    s.wall = 10.0 + i;
    samples.push_back(s);
    const std::size_t before = stream.size();
    encode(s, stream);
    sizes.push_back(stream.size() - before);
  }

  std::span<const std::uint8_t> rest(stream);
  Decoded d = decode(rest);
  ASSERT_EQ(d.status, Status::Ok) << d.error;
  EXPECT_EQ(d.consumed, sizes[0]);
  expect_same(std::get<Hello>(d.message), h);
  rest = rest.subspan(d.consumed);

  for (std::size_t i = 0; i < samples.size(); ++i) {
    d = decode(rest);
    ASSERT_EQ(d.status, Status::Ok) << "frame " << i + 1 << ": " << d.error;
    EXPECT_EQ(d.consumed, sizes[i + 1]) << "frame " << i + 1;
    ASSERT_TRUE(std::holds_alternative<Sample>(d.message));
    expect_same(std::get<Sample>(d.message), samples[i]);
    rest = rest.subspan(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(decode(rest).status, Status::NeedMore);
}

TEST(WireStream, FrameFollowedByPartOfTheNextIsOk) {
  // TCP delivers arbitrary chunks: a frame plus the start of the next decodes the first only.
  Bytes b = encoded(full_hello());
  const std::size_t first = b.size();
  encode(full_sample(), b);
  for (std::size_t extra = 0; extra < b.size() - first; ++extra) {
    const Decoded d = decode(std::span<const std::uint8_t>(b.data(), first + extra));
    ASSERT_EQ(d.status, Status::Ok) << "with " << extra << " extra bytes: " << d.error;
    EXPECT_EQ(d.consumed, first);
  }
}

TEST(WireStream, EveryPrefixOfAHelloNeedsMore) {
  const Bytes b = encoded(full_hello());
  for (std::size_t n = 0; n < b.size(); ++n) {
    const Decoded d = decode(std::span<const std::uint8_t>(b.data(), n));
    ASSERT_EQ(d.status, Status::NeedMore) << "prefix of " << n << " of " << b.size() << " bytes: " << d.error;
    EXPECT_EQ(d.consumed, 0u);
  }
}

TEST(WireStream, EveryPrefixOfASampleNeedsMore) {
  const Bytes b = encoded(full_sample());
  for (std::size_t n = 0; n < b.size(); ++n) {
    const Decoded d = decode(std::span<const std::uint8_t>(b.data(), n));
    ASSERT_EQ(d.status, Status::NeedMore) << "prefix of " << n << " of " << b.size() << " bytes: " << d.error;
    EXPECT_EQ(d.consumed, 0u);
  }
}

TEST(WireStream, MaximalPayloadLengthWaitsForMore) {
  // kMaxPayload itself is allowed: with only the header present the decoder must wait.
  Bytes b = encoded(full_sample());
  patch(b, kLengthAt, static_cast<std::uint32_t>(kMaxPayload));
  EXPECT_EQ(decode_bytes(b).status, Status::NeedMore);
}

// ---- header errors --------------------------------------------------------------------------

TEST(WireErrors, BadMagic) {
  Bytes b = encoded(full_sample());
  b[kMagicAt] ^= 0xFF;
  EXPECT_NE(error_of(b).find("magic"), std::string::npos);
}

TEST(WireErrors, BadMagicIsReportedFromTheHeaderAlone) {
  // A peer that is not ferry at all (an HTTP probe, say) is told off at once instead of the
  // collector waiting for a payload that never comes.
  Bytes b = encoded(full_sample());
  patch(b, kMagicAt, std::uint32_t{0x20544547});  // "GET "
  b.resize(kHeaderBytes);
  EXPECT_NE(error_of(b).find("magic"), std::string::npos);
}

TEST(WireErrors, WrongVersion) {
  Bytes b = encoded(full_hello());
  patch(b, kVersionAt, std::uint16_t{7});
  const std::string e = error_of(b);
  EXPECT_NE(e.find("version"), std::string::npos) << e;
  EXPECT_NE(e.find('7'), std::string::npos) << "should say which version arrived: " << e;
}

TEST(Wire, ControlRoundTripAndChecks) {
  Bytes b;
  ASSERT_TRUE(ferry::core::wire::encode(ferry::core::wire::Control{R"({"op":"checkpoint","epoch":3})"}, b));
  auto d = ferry::core::wire::decode(b);
  ASSERT_EQ(d.status, ferry::core::wire::Decoded::Status::Ok);
  EXPECT_EQ(std::get<ferry::core::wire::Control>(d.message).json, R"({"op":"checkpoint","epoch":3})");
  EXPECT_EQ(d.consumed, b.size());
  Bytes too_long;
  EXPECT_FALSE(ferry::core::wire::encode(ferry::core::wire::Control{std::string(70000, 'x')}, too_long));
  EXPECT_TRUE(too_long.empty());
  Bytes nul;
  ASSERT_TRUE(ferry::core::wire::encode(ferry::core::wire::Control{std::string("a\0b", 3)}, nul));
  EXPECT_NE(error_of(nul).find("NUL"), std::string::npos);
}

TEST(WireErrors, UnknownFrameType) {
  for (std::uint16_t type : {std::uint16_t{0}, std::uint16_t{4}, std::uint16_t{0xFFFF}}) {
    Bytes b = encoded(full_sample());
    patch(b, kTypeAt, type);
    const std::string e = error_of(b);
    EXPECT_NE(e.find("unknown frame type"), std::string::npos) << e;
    EXPECT_NE(e.find(std::to_string(type)), std::string::npos) << e;
  }
}

TEST(WireErrors, PayloadLengthOverMax) {
  for (std::uint32_t length : {static_cast<std::uint32_t>(kMaxPayload + 1), std::uint32_t{0xFFFFFFFF}}) {
    Bytes b = encoded(full_sample());
    patch(b, kLengthAt, length);
    // Rejected from the header alone: the decoder must not wait for (or buffer) 4 GiB.
    const std::string e = error_of(b);
    EXPECT_NE(e.find(std::to_string(length)), std::string::npos) << e;
    EXPECT_NE(e.find("max"), std::string::npos) << e;
  }
}

// ---- hello errors ---------------------------------------------------------------------------

TEST(WireErrors, HelloRankNotBelowSize) {
  for (std::uint32_t rank : {4u, 5u, 0xFFFFFFFFu}) {
    Hello h = full_hello();
    h.size = 4;
    h.rank = rank;
    const std::string e = error_of(encoded(h));
    EXPECT_NE(e.find("rank " + std::to_string(rank)), std::string::npos) << e;
    EXPECT_NE(e.find("4 ranks"), std::string::npos) << e;
  }
}

TEST(WireErrors, HelloSizeZero) {
  Hello h = full_hello();
  h.rank = 0;
  h.size = 0;
  const std::string e = error_of(encoded(h));
  EXPECT_NE(e.find("0 ranks"), std::string::npos) << e;
}

TEST(WireErrors, HelloTooManyPapiEvents) {
  // The event count is the hello's last fixed byte when it lists no events.
  Hello h = full_hello();
  h.papi_events.clear();
  Bytes b = encoded(h);
  ASSERT_EQ(b.back(), 0);
  b.back() = static_cast<std::uint8_t>(kMaxPapiEvents + 1);
  const std::string e = error_of(b);
  EXPECT_NE(e.find("9 PAPI events"), std::string::npos) << e;
  EXPECT_NE(e.find("max 8"), std::string::npos) << e;
}

TEST(WireErrors, HelloStringTooLong) {
  // The job name is the payload's first field: u16 length then bytes. Declare 1025 bytes and
  // make the frame big enough that only the limit, not truncation, can be the complaint.
  Hello h = full_hello();
  h.job = std::string(1024, 'j');
  Bytes b = encoded(h);
  patch(b, kHeaderBytes, std::uint16_t{1025});
  const std::string e = error_of(b);
  EXPECT_NE(e.find("string of 1025 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("max 1024"), std::string::npos) << e;
}

TEST(WireErrors, HelloStringLongerThanFrame) {
  Hello h = full_hello();
  Bytes b = encoded(h);
  patch(b, kHeaderBytes, std::uint16_t{1000});  // legal length, but the frame is far shorter
  const std::string e = error_of(b);
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(WireErrors, HelloTrailingBytes) {
  Bytes b = encoded(full_hello());
  resize_payload(b, +3);
  const std::string e = error_of(b);
  EXPECT_NE(e.find("more than its fields"), std::string::npos) << e;
}

TEST(WireErrors, HelloEveryShortDeclaredLengthIsTruncated) {
  // The frame is complete per its header, but too short for its fields: an error, never NeedMore
  // (the missing bytes belong to the next frame) and never a half-filled hello.
  const Bytes good = encoded(full_hello());
  const auto length = peek<std::uint32_t>(good, kLengthAt);
  for (std::uint32_t cut = 1; cut <= length; ++cut) {
    Bytes b = good;
    resize_payload(b, -static_cast<long>(cut));
    const std::string e = error_of(b);
    EXPECT_NE(e.find("truncated"), std::string::npos) << "payload cut by " << cut << ": " << e;
  }
}

// ---- sample errors --------------------------------------------------------------------------

TEST(WireErrors, SampleTooManyPapiValues) {
  Bytes b = encoded(full_sample());
  ASSERT_EQ(b[kSamplePapiCountAt], kMaxPapiEvents);
  b[kSamplePapiCountAt] = static_cast<std::uint8_t>(kMaxPapiEvents + 1);
  resize_payload(b, +8);  // room for a ninth value, so the count itself is the complaint
  const std::string e = error_of(b);
  EXPECT_NE(e.find("9 PAPI values"), std::string::npos) << e;
  EXPECT_NE(e.find("max 8"), std::string::npos) << e;
}

TEST(WireErrors, SampleNegativeOrNaNTimes) {
  const double bad[] = {-1.0, -1e-300, -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN()};
  for (double v : bad) {
    for (int field = 0; field < 3; ++field) {
      Sample s = full_sample();
      (field == 0 ? s.wall : field == 1 ? s.mpi : s.cpu) = v;
      const std::string e = error_of(encoded(s));
      EXPECT_NE(e.find("negative or NaN"), std::string::npos) << "field " << field << " = " << v << ": " << e;
    }
  }
}

TEST(WireErrors, SampleTrailingBytes) {
  Bytes b = encoded(full_sample());
  resize_payload(b, +1);
  const std::string e = error_of(b);
  EXPECT_NE(e.find("more than its fields"), std::string::npos) << e;
}

TEST(WireErrors, SampleDeclaringMorePapiThanItCarries) {
  // papi_count says 8 but only 7 values follow (the length agrees with what is there).
  Bytes b = encoded(full_sample());
  resize_payload(b, -8);
  const std::string e = error_of(b);
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(WireErrors, SampleEveryShortDeclaredLengthIsTruncated) {
  const Bytes good = encoded(full_sample());
  const auto length = peek<std::uint32_t>(good, kLengthAt);
  for (std::uint32_t cut = 1; cut <= length; ++cut) {
    Bytes b = good;
    resize_payload(b, -static_cast<long>(cut));
    const std::string e = error_of(b);
    EXPECT_NE(e.find("truncated"), std::string::npos) << "payload cut by " << cut << ": " << e;
  }
}

// ---- fuzz -----------------------------------------------------------------------------------

// The collector decodes bytes from the network: whatever arrives, decode must return one of its
// three answers, consume nothing it was not given, and only ever accept frames that make sense.
TEST(WireFuzz, RandomMutationsNeverBreakTheDecoder) {
  std::mt19937_64 rng(20240611);  // fixed seed: a failure reproduces
  Sample few_papi = full_sample();
  few_papi.papi_count = 2;
  const std::vector<Bytes> bases = {encoded(full_hello()), encoded(full_sample()), encoded(few_papi),
                                    encoded(Hello{"j", 0, 1, "n", 1, {"E"}})};
  int ok = 0, need_more = 0, error = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Bytes b = bases[rng() % bases.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:  // random byte anywhere
          b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
          break;
        case 1:  // single bit flip
          b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 2:  // hit a header field or a length, where mutations matter most
          b[rng() % (kHeaderBytes + 4)] = static_cast<std::uint8_t>(rng());
          break;
        case 3:  // truncate the buffer
          b.resize(rng() % (b.size() + 1));
          if (b.empty()) b.push_back(static_cast<std::uint8_t>(rng()));
          break;
      }
    }
    // Exact-size heap copy so that an over-read is an over-read (and visible to sanitizers).
    const Bytes input(b.begin(), b.end());
    const Decoded d = decode_bytes(input);
    switch (d.status) {
      case Status::Ok: {
        ++ok;
        ASSERT_GE(d.consumed, kHeaderBytes) << "iteration " << iter;
        ASSERT_LE(d.consumed, input.size()) << "iteration " << iter;
        // Anything accepted must satisfy the decoder's promises...
        Bytes again;
        if (const auto* h = std::get_if<Hello>(&d.message)) {
          EXPECT_LT(h->rank, h->size);
          EXPECT_LE(h->papi_events.size(), kMaxPapiEvents);
          encode(*h, again);
        } else {
          const auto& s = std::get<Sample>(d.message);
          EXPECT_LE(s.papi_count, kMaxPapiEvents);
          EXPECT_GE(s.wall, 0);
          EXPECT_GE(s.mpi, 0);
          EXPECT_GE(s.cpu, 0);
          encode(s, again);
        }
        // ...and the format is canonical: re-encoding gives back exactly the consumed bytes.
        EXPECT_EQ(again, Bytes(input.begin(), input.begin() + static_cast<long>(d.consumed))) << "iteration " << iter;
        break;
      }
      case Status::NeedMore:
        ++need_more;
        EXPECT_EQ(d.consumed, 0u) << "iteration " << iter;
        EXPECT_TRUE(d.error.empty()) << "iteration " << iter;
        break;
      case Status::Error:
        ++error;
        EXPECT_EQ(d.consumed, 0u) << "iteration " << iter;
        EXPECT_FALSE(d.error.empty()) << "iteration " << iter;
        break;
      default:
        FAIL() << "decode returned status " << static_cast<int>(d.status) << " at iteration " << iter;
    }
  }
  EXPECT_EQ(ok + need_more + error, 2000);
  // The mutations must actually exercise all three outcomes, or the fuzz proves little.
  EXPECT_GT(ok, 0);
  EXPECT_GT(need_more, 0);
  EXPECT_GT(error, 0);
}

}  // namespace
}  // namespace ferry::core::wire
