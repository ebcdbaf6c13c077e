// Byte format of the rank → collector stream. Little-endian, length-prefixed frames:
//   u32 magic "FRY1" | u16 version | u16 type | u32 payload bytes | payload
// A decoder never trusts its input: every length and value is checked, and a bad frame is
// reported with what was wrong instead of being half-read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/sample.h"

namespace ferry::core::wire {

inline constexpr std::uint32_t kMagic = 0x31595246;  // "FRY1" read as little-endian u32
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderBytes = 12;
inline constexpr std::size_t kMaxPayload = 64 * 1024;

enum class FrameType : std::uint16_t { Hello = 1, Sample = 2, Control = 3 };

/// A control message, either way between a rank and its supervisor (checkpoint requests and
/// their outcomes): one JSON object, at most kMaxPayload bytes. Its meaning is the migrate
/// module's; the stream only carries it.
struct Control {
  std::string json;
};

void encode(const Hello& hello, std::vector<std::uint8_t>& out);
void encode(const Sample& sample, std::vector<std::uint8_t>& out);
/// False (nothing written) when the text exceeds a frame.
bool encode(const Control& control, std::vector<std::uint8_t>& out);

using Message = std::variant<Hello, Sample, Control>;

/// Result of looking at the front of a byte buffer.
struct Decoded {
  enum class Status { Ok, NeedMore, Error } status = Status::NeedMore;
  std::size_t consumed = 0;   ///< bytes of the frame (Ok) — the caller drops them
  Message message;
  std::string error;          ///< what is wrong (Error); the stream cannot be resynchronised
};

Decoded decode(std::span<const std::uint8_t> bytes);

}  // namespace ferry::core::wire
