// CRC-32C (Castagnoli) for checkpoint images. An image is checksummed once when written and once
// per read or verify, gigabytes at a time, so the checksum must run at memory speed: with SSE4.2
// three independent crc32 streams hide the instruction's 3-cycle latency (one stream alone is
// capped at a third of the throughput); without it, slicing-by-8 tables.
//
// Values are kept "raw" inside (the register, before the final inversion), so chaining a call is
// inverting the previous result. Three streams are joined by linearity: the register after A then
// B is shift(A, |B|) ^ B-started-from-zero, where shift multiplies by x^(8|B|) modulo the
// polynomial; for the two fixed block lengths used, the shift is four byte-indexed tables.
//
// detail::crc32c_portable and detail::crc32c_hardware_available are not in image.h: the tests
// and bench/image_bench.cc declare them themselves to compare both paths.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "migrate/image.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define FERRY_CRC32C_X86 1
#endif

namespace ferry::migrate {

namespace {

constexpr std::uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Tables {
  std::uint32_t t[8][256];
};

constexpr Tables make_slicing_tables() {
  Tables s{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    s.t[0][n] = c;
  }
  for (int k = 1; k < 8; ++k)
    for (std::uint32_t n = 0; n < 256; ++n) s.t[k][n] = (s.t[k - 1][n] >> 8) ^ s.t[0][s.t[k - 1][n] & 0xff];
  return s;
}

constexpr Tables kSlicing = make_slicing_tables();

// a * b modulo the polynomial, both in reflected bit order (bit 31 is x^0).
constexpr std::uint32_t multmodp(std::uint32_t a, std::uint32_t b) {
  std::uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^(8 * bytes) modulo the polynomial: what feeding `bytes` zero bytes multiplies the register by.
constexpr std::uint32_t x8nmodp(std::size_t bytes) {
  std::uint32_t p = 1u << 31;   // x^0
  std::uint32_t sq = 1u << 23;  // x^8
  while (bytes) {
    if (bytes & 1) p = multmodp(sq, p);
    sq = multmodp(sq, sq);
    bytes >>= 1;
  }
  return p;
}

struct ShiftTable {
  std::uint32_t t[4][256];
};

constexpr ShiftTable make_shift_table(std::size_t bytes) {
  ShiftTable s{};
  const std::uint32_t x = x8nmodp(bytes);
  for (int k = 0; k < 4; ++k)
    for (std::uint32_t n = 0; n < 256; ++n) s.t[k][n] = multmodp(x, n << (8 * k));
  return s;
}

inline std::uint32_t shift(const ShiftTable& s, std::uint32_t crc) {
  return s.t[0][crc & 0xff] ^ s.t[1][(crc >> 8) & 0xff] ^ s.t[2][(crc >> 16) & 0xff] ^ s.t[3][crc >> 24];
}

// Block lengths of the three-stream loops: the long one for bulk data, the short one so that
// buffers of a few hundred bytes (drained messages, the index) still use three streams.
constexpr std::size_t kLong = 8192;
constexpr std::size_t kShort = 256;

inline std::uint64_t load64(const unsigned char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}

std::uint32_t portable_raw(const unsigned char* p, std::size_t n, std::uint32_t raw) {
  const auto& t = kSlicing.t;
  for (; n && (reinterpret_cast<std::uintptr_t>(p) & 7); --n) raw = t[0][(raw ^ *p++) & 0xff] ^ (raw >> 8);
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint64_t w = load64(p) ^ raw;
    raw = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
          t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
  }
  for (; n; --n) raw = t[0][(raw ^ *p++) & 0xff] ^ (raw >> 8);
  return raw;
}

#ifdef FERRY_CRC32C_X86
constexpr ShiftTable kShiftLong = make_shift_table(kLong);
constexpr ShiftTable kShiftShort = make_shift_table(kShort);

template <std::size_t Block>
__attribute__((target("sse4.2"), always_inline)) inline std::uint64_t three_streams(const unsigned char*& p,
                                                                                    std::size_t& n, std::uint64_t c0,
                                                                                    const ShiftTable& s) {
  while (n >= 3 * Block) {
    std::uint64_t c1 = 0, c2 = 0;
    for (std::size_t i = 0; i < Block; i += 8) {
      c0 = _mm_crc32_u64(c0, load64(p + i));
      c1 = _mm_crc32_u64(c1, load64(p + Block + i));
      c2 = _mm_crc32_u64(c2, load64(p + 2 * Block + i));
    }
    c0 = shift(s, static_cast<std::uint32_t>(c0)) ^ c1;
    c0 = shift(s, static_cast<std::uint32_t>(c0)) ^ c2;
    p += 3 * Block;
    n -= 3 * Block;
  }
  return c0;
}

__attribute__((target("sse4.2"))) std::uint32_t hardware_raw(const unsigned char* p, std::size_t n, std::uint32_t raw) {
  std::uint64_t c = raw;
  for (; n && (reinterpret_cast<std::uintptr_t>(p) & 7); --n) c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
  c = three_streams<kLong>(p, n, c, kShiftLong);
  c = three_streams<kShort>(p, n, c, kShiftShort);
  for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, load64(p));
  for (; n; --n) c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
  return static_cast<std::uint32_t>(c);
}
#endif

bool hardware_available() noexcept {
#ifdef FERRY_CRC32C_X86
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
#else
  return false;
#endif
}

}  // namespace

namespace detail {

/// The table-driven path, whatever the CPU (for tests and benchmarks).
std::uint32_t crc32c_portable(const void* data, std::size_t bytes, std::uint32_t crc) noexcept {
  return ~portable_raw(static_cast<const unsigned char*>(data), bytes, ~crc);
}

/// Whether crc32c() takes the SSE4.2 path on this CPU.
bool crc32c_hardware_available() noexcept { return hardware_available(); }

}  // namespace detail

std::uint32_t crc32c(const void* data, std::size_t bytes, std::uint32_t crc) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
#ifdef FERRY_CRC32C_X86
  if (hardware_available()) return ~hardware_raw(p, bytes, ~crc);
#endif
  return ~portable_raw(p, bytes, ~crc);
}

}  // namespace ferry::migrate
