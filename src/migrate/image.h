// The checkpoint image of one rank: its protected regions and the messages drained for it, in a
// file that says what it holds and proves it was not damaged.
//
// Layout (little-endian):
//   [0, 4096)   front block: "FERRYIMG" | u32 format version | u32 flags (0) |
//               u64 index offset | u32 index bytes | u32 crc32c of the index | zero padding
//   [4096, ...) payload: each region, then each drained message, at the offsets the index names
//   index       JSON: {"job","epoch","rank","size","node","created_ns","total_bytes",
//               "regions":[{"id","bytes","offset","crc32c"}],
//               "messages":[{"comm","source","tag","bytes","offset","crc32c"}]}
// The index is written last and the front block rewritten to point at it, so the payload is
// written in one pass straight from the application's memory, checksummed chunk by chunk.
// A writer produces <path>.tmp, fsyncs it, renames it to <path> and fsyncs the directory: a
// reader sees the whole image or none, and a failed write never touches an older image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::migrate {

inline constexpr std::uint32_t kImageVersion = 1;
inline constexpr std::size_t kImageFrontBytes = 4096;

/// A region to write: borrowed application memory.
struct RegionView {
  std::int32_t id = 0;
  const void* data = nullptr;
  std::uint64_t bytes = 0;
};

/// A point-to-point message received by the drain, delivered after the checkpoint.
struct DrainedMessage {
  std::uint64_t comm = 0;   ///< communicator uid (CommInfo::uid), equal across ranks and runs
  std::int32_t source = 0;  ///< sender's rank in that communicator
  std::int32_t tag = 0;
  std::vector<std::uint8_t> data;
};

struct ImageIndex {
  std::string job;
  std::uint64_t epoch = 0;
  std::uint32_t rank = 0;
  std::uint32_t size = 0;   ///< ranks in the job
  std::string node;
  std::int64_t created_ns = 0;
  std::uint64_t total_bytes = 0;  ///< file size
  struct Region {
    std::int32_t id = 0;
    std::uint64_t bytes = 0, offset = 0;
    std::uint32_t crc32c = 0;
  };
  struct Message {
    std::uint64_t comm = 0;
    std::int32_t source = 0, tag = 0;
    std::uint64_t bytes = 0, offset = 0;
    std::uint32_t crc32c = 0;
  };
  std::vector<Region> regions;
  std::vector<Message> messages;
};

struct WriteStats {
  std::uint64_t bytes = 0;  ///< file size
  double seconds = 0;       ///< write + fsync + rename
};

/// Writes an image atomically to `path` (directories made as needed). The index fields job,
/// epoch, rank, size and node are taken from `meta`; the rest is filled in. False with `error`
/// (naming the file and the reason, e.g. "No space left on device") on failure, in which case
/// no file is left behind and an existing `path` is untouched.
bool write_image(const std::string& path, const ImageIndex& meta, const std::vector<RegionView>& regions,
                 const std::vector<DrainedMessage>& messages, std::string& error, WriteStats* stats = nullptr);

/// Reads an image: the index at open(), then regions on demand, each checked against its
/// checksum while it is read.
class ImageReader {
 public:
  ImageReader() = default;
  ~ImageReader();
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  /// Opens and checks the front block and the index. Errors name the file and what is wrong
  /// ("not a ferry image", "format version 7, this ferry reads 1", "index checksum mismatch",
  /// "truncated: region 2 ends at byte N of M").
  bool open(const std::string& path, std::string& error);
  const ImageIndex& index() const { return index_; }
  const std::string& path() const { return path_; }

  /// The region with `id`, or null.
  const ImageIndex::Region* region(std::int32_t id) const;
  /// Reads region `id` into `dst` (exactly region(id)->bytes bytes) and verifies its checksum.
  bool read_region(std::int32_t id, void* dst, std::string& error);
  /// Reads and verifies every drained message, in stored order.
  bool read_messages(std::vector<DrainedMessage>& out, std::string& error);
  /// Verifies every checksum without keeping the data. Error names the first bad part.
  bool verify(std::string& error);

 private:
  int fd_ = -1;
  std::string path_;
  ImageIndex index_;
};

/// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2. `crc` chains calls:
/// crc32c(b, crc32c(a)) == crc32c(a+b).
std::uint32_t crc32c(const void* data, std::size_t bytes, std::uint32_t crc = 0) noexcept;

}  // namespace ferry::migrate
