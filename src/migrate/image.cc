// Checkpoint images: writing one atomically, reading it back with every byte checked (image.h has
// the layout). Nothing here throws: a checkpoint that cannot be written or read is an error the
// caller reports, never a dead rank.
#include "migrate/image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <type_traits>

namespace ferry::migrate {

namespace {

using nlohmann::json;

constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'I', 'M', 'G'};
constexpr std::size_t kHeaderBytes = 32;  // magic, version, flags, index offset, bytes, crc
// Checksummed and written (or read and checksummed) a chunk at a time: small enough that the
// second pass over a chunk finds it still in the cache, large enough that syscalls cost nothing.
constexpr std::size_t kChunk = 1 << 20;
// Pieces smaller than this (drained messages, mostly) are gathered into one write.
constexpr std::size_t kSmallPiece = 64 << 10;
constexpr std::size_t kMaxIndexBytes = 64 << 20;

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

bool failed(std::string& error, std::string why) {
  error = std::move(why);
  return false;
}

void put_le(unsigned char* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

std::uint64_t get_le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

std::string hex32(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

// 0 on success, else the errno (a write that makes no progress counts as ENOSPC). With an
// offset, pwrite there; without, write at the file position.
int write_all(int fd, const void* data, std::size_t n, std::int64_t offset = -1) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const ssize_t w = offset < 0 ? ::write(fd, p, n) : ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : ENOSPC;
    p += w;
    n -= static_cast<std::size_t>(w);
    if (offset >= 0) offset += w;
  }
  return 0;
}

int fsync_all(int fd) {
  int r;
  while ((r = ::fsync(fd)) < 0 && errno == EINTR) {
  }
  return r < 0 ? errno : 0;
}

// Bytes read (fewer than n only at end of file), or -1 with errno set.
ssize_t pread_full(int fd, void* data, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<unsigned char*>(data);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 ? -1 : static_cast<ssize_t>(got);
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

// Appends the payload after the front block, checksumming each chunk just before it goes out.
class PayloadWriter {
 public:
  PayloadWriter(int fd, std::uint64_t offset) : fd_(fd), offset_(offset) {}
  std::uint64_t offset() const { return offset_ + buffered_.size(); }

  // Writes one piece; its checksum into `crc`. 0 or an errno.
  int append(const void* data, std::size_t n, std::uint32_t& crc) {
    const auto* p = static_cast<const unsigned char*>(data);
    crc = 0;
    if (n < kSmallPiece) {
      if (buffered_.size() + n > kChunk)
        if (int e = flush()) return e;
      crc = crc32c(p, n);
      buffered_.insert(buffered_.end(), p, p + n);
      return 0;
    }
    if (int e = flush()) return e;
    for (std::size_t done = 0; done < n;) {
      const std::size_t k = std::min(kChunk, n - done);
      crc = crc32c(p + done, k, crc);
      if (int e = write_all(fd_, p + done, k)) return e;
      done += k;
      offset_ += k;
    }
    return 0;
  }

  int flush() {
    if (buffered_.empty()) return 0;
    if (int e = write_all(fd_, buffered_.data(), buffered_.size())) return e;
    offset_ += buffered_.size();
    buffered_.clear();
    return 0;
  }

 private:
  int fd_;
  std::uint64_t offset_;
  std::vector<unsigned char> buffered_;
};

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

json index_json(const ImageIndex& x) {
  json regions = json::array(), messages = json::array();
  for (const auto& r : x.regions)
    regions.push_back({{"id", r.id}, {"bytes", r.bytes}, {"offset", r.offset}, {"crc32c", r.crc32c}});
  for (const auto& m : x.messages)
    messages.push_back({{"comm", m.comm},
                        {"source", m.source},
                        {"tag", m.tag},
                        {"bytes", m.bytes},
                        {"offset", m.offset},
                        {"crc32c", m.crc32c}});
  return {{"job", x.job},
          {"epoch", x.epoch},
          {"rank", x.rank},
          {"size", x.size},
          {"node", x.node},
          {"created_ns", x.created_ns},
          {"total_bytes", x.total_bytes},
          {"regions", std::move(regions)},
          {"messages", std::move(messages)}};
}

// Typed field access for the index: false with `error` naming the field when missing or mistyped.
template <typename T>
bool get_field(const json& o, const char* key, const std::string& where, T& out, std::string& error) {
  const auto it = o.find(key);
  bool ok = it != o.end();
  if constexpr (std::is_same_v<T, std::string>) {
    if ((ok = ok && it->is_string())) out = it->template get<std::string>();
  } else {
    // Compared as 64-bit first: a value outside T is refused, not wrapped.
    using L = std::numeric_limits<T>;
    ok = ok && it->is_number_integer() &&
         (it->is_number_unsigned()
              ? it->template get<std::uint64_t>() <= static_cast<std::uint64_t>(L::max())
              : std::is_signed_v<T> && it->template get<std::int64_t>() >= static_cast<std::int64_t>(L::min()));
    if (ok) out = static_cast<T>(it->template get<std::int64_t>());
  }
  if (!ok)
    error = "index: " + where + key + " is missing or not " +
            (std::is_same_v<T, std::string> ? "a string" : "an integer in range");
  return ok;
}

bool parse_index(const json& j, ImageIndex& x, std::string& error) {
  if (!j.is_object()) return failed(error, "index is not a JSON object");
  if (!get_field(j, "job", "", x.job, error) || !get_field(j, "epoch", "", x.epoch, error) ||
      !get_field(j, "rank", "", x.rank, error) || !get_field(j, "size", "", x.size, error) ||
      !get_field(j, "node", "", x.node, error) || !get_field(j, "created_ns", "", x.created_ns, error) ||
      !get_field(j, "total_bytes", "", x.total_bytes, error))
    return false;
  for (const char* list : {"regions", "messages"}) {
    const auto it = j.find(list);
    if (it == j.end() || !it->is_array())
      return failed(error, std::string("index: ") + list + " is missing or not an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      const std::string where = std::string(list) + "[" + std::to_string(i) + "].";
      if (!e.is_object()) return failed(error, "index: " + where.substr(0, where.size() - 1) + " is not an object");
      if (list[0] == 'r') {
        ImageIndex::Region r;
        if (!get_field(e, "id", where, r.id, error) || !get_field(e, "bytes", where, r.bytes, error) ||
            !get_field(e, "offset", where, r.offset, error) || !get_field(e, "crc32c", where, r.crc32c, error))
          return false;
        x.regions.push_back(r);
      } else {
        ImageIndex::Message m;
        if (!get_field(e, "comm", where, m.comm, error) || !get_field(e, "source", where, m.source, error) ||
            !get_field(e, "tag", where, m.tag, error) || !get_field(e, "bytes", where, m.bytes, error) ||
            !get_field(e, "offset", where, m.offset, error) || !get_field(e, "crc32c", where, m.crc32c, error))
          return false;
        x.messages.push_back(m);
      }
    }
  }
  return true;
}

// Every part must lie between the front block and the index.
bool check_extent(const std::string& what, std::uint64_t offset, std::uint64_t bytes, std::uint64_t index_offset,
                  std::uint64_t file_bytes, std::string& error) {
  if (offset < kImageFrontBytes) return failed(error, what + " starts inside the front block");
  if (offset > file_bytes || bytes > file_bytes - offset)
    return failed(error, "truncated: " + what + " ends at byte " + std::to_string(offset + bytes) + " of " +
                             std::to_string(file_bytes));
  if (offset + bytes > index_offset)
    return failed(error, what + " overlaps the index at byte " + std::to_string(index_offset));
  return true;
}

// Reads [offset, offset+bytes) chunk by chunk into dst (advancing through it when `advance`, else
// reusing its first kChunk bytes) and compares the checksum.
bool read_checked(int fd, const std::string& path, const std::string& what, std::uint64_t offset, std::uint64_t bytes,
                  std::uint32_t expected, unsigned char* dst, bool advance, std::string& error) {
  std::uint32_t crc = 0;
  for (std::uint64_t done = 0; done < bytes;) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, bytes - done));
    unsigned char* p = advance ? dst + done : dst;
    const ssize_t got = pread_full(fd, p, k, offset + done);
    if (got < 0) return failed(error, path + ": cannot read " + what + ": " + errno_text(errno));
    if (static_cast<std::size_t>(got) < k)
      return failed(error, path + ": truncated: " + what + " ends at byte " + std::to_string(offset + bytes) +
                               " but the file ends at byte " + std::to_string(offset + done + got));
    crc = crc32c(p, k, crc);
    done += k;
  }
  if (crc != expected)
    return failed(error, path + ": " + what + ": checksum mismatch (index says " + hex32(expected) + ", data gives " +
                             hex32(crc) + ")");
  return true;
}

}  // namespace

bool write_image(const std::string& path, const ImageIndex& meta, const std::vector<RegionView>& regions,
                 const std::vector<DrainedMessage>& messages, std::string& error, WriteStats* stats) {
  const std::string tmp = path + ".tmp";
  int fd = -1;
  bool created = false;
  // Every failure ends here: the partial file goes, an older image at `path` was never touched.
  auto fail = [&](const std::string& why) {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (created) ::unlink(tmp.c_str());
    error = tmp + ": " + why;
    return false;
  };
  try {
    const auto start = std::chrono::steady_clock::now();
    std::set<std::int32_t> ids;
    for (const auto& r : regions) {
      if (!ids.insert(r.id).second) return fail("region id " + std::to_string(r.id) + " given twice");
      if (r.bytes > 0 && r.data == nullptr) return fail("region " + std::to_string(r.id) + " has no data");
    }
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return fail("cannot create directory " + dir.string() + ": " + ec.message());
    }
    // 0600: the image holds the application's memory.
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("cannot create: " + errno_text(errno));
    created = true;

    // Zeros until the index exists: a torn .tmp never passes for an image.
    unsigned char front[kImageFrontBytes] = {};
    if (int e = write_all(fd, front, sizeof front)) return fail("cannot write the front block: " + errno_text(e));

    ImageIndex index{meta.job, meta.epoch, meta.rank, meta.size, meta.node, now_ns(), 0, {}, {}};
    PayloadWriter out(fd, kImageFrontBytes);
    for (const auto& r : regions) {
      ImageIndex::Region e{r.id, r.bytes, out.offset(), 0};
      if (int err = out.append(r.data, r.bytes, e.crc32c))
        return fail("cannot write region " + std::to_string(r.id) + ": " + errno_text(err));
      index.regions.push_back(e);
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      ImageIndex::Message e{m.comm, m.source, m.tag, m.data.size(), out.offset(), 0};
      if (int err = out.append(m.data.data(), m.data.size(), e.crc32c))
        return fail("cannot write message " + std::to_string(i) + ": " + errno_text(err));
      index.messages.push_back(e);
    }
    if (int err = out.flush()) return fail("cannot write the drained messages: " + errno_text(err));

    // The index states the file size, which includes the index: iterate to the fixed point (the
    // size only grows with its own digits, so two or three rounds).
    const std::uint64_t index_offset = out.offset();
    index.total_bytes = index_offset;
    std::string text;
    for (int round = 0; round < 8; ++round) {
      text = index_json(index).dump(-1, ' ', false, json::error_handler_t::replace);
      if (index.total_bytes == index_offset + text.size()) break;
      index.total_bytes = index_offset + text.size();
    }
    if (index.total_bytes != index_offset + text.size()) return fail("index size does not settle");
    if (text.size() > kMaxIndexBytes) return fail("index of " + std::to_string(text.size()) + " bytes exceeds 64 MiB");
    if (int e = write_all(fd, text.data(), text.size())) return fail("cannot write the index: " + errno_text(e));

    std::memcpy(front, kMagic, sizeof kMagic);
    put_le(front + 8, kImageVersion, 4);
    put_le(front + 12, 0, 4);
    put_le(front + 16, index_offset, 8);
    put_le(front + 24, text.size(), 4);
    put_le(front + 28, crc32c(text.data(), text.size()), 4);
    if (int e = write_all(fd, front, kHeaderBytes, 0)) return fail("cannot write the front block: " + errno_text(e));
    if (int e = fsync_all(fd)) return fail("fsync: " + errno_text(e));
    const int closed = ::close(fd);
    fd = -1;
    if (closed < 0 && errno != EINTR) return fail("close: " + errno_text(errno));
    if (::rename(tmp.c_str(), path.c_str()) < 0) return fail("cannot rename to " + path + ": " + errno_text(errno));
    created = false;

    // Without this the rename itself may not survive a crash. The new image is in place by now;
    // a failure is still reported, since the caller must not count on it.
    const std::string dirname = dir.empty() ? "." : dir.string();
    const int dfd = ::open(dirname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
      return failed(error, path + ": cannot open directory " + dirname + " to sync it: " + errno_text(errno));
    const int sync_errno = fsync_all(dfd);
    ::close(dfd);
    if (sync_errno != 0 && sync_errno != EINVAL)  // EINVAL: a filesystem that cannot sync directories
      return failed(error, path + ": fsync of directory " + dirname + ": " + errno_text(sync_errno));

    if (stats) {
      stats->bytes = index.total_bytes;
      stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    error.clear();
    return true;
  } catch (const std::exception& e) {
    return fail(std::string("unexpected error: ") + e.what());
  } catch (...) {
    return fail("unexpected error");
  }
}

ImageReader::~ImageReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool ImageReader::open(const std::string& path, std::string& error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  path_ = path;
  index_ = {};
  int fd = -1;
  auto fail = [&](const std::string& why) {
    if (fd >= 0) ::close(fd);
    index_ = {};
    error = path + ": " + why;
    return false;
  };
  try {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno_text(errno));
    struct stat st {};
    if (::fstat(fd, &st) < 0) return fail(errno_text(errno));
    if (!S_ISREG(st.st_mode)) return fail("not a regular file");
    const auto file_bytes = static_cast<std::uint64_t>(st.st_size);

    unsigned char front[kImageFrontBytes];
    const ssize_t got = pread_full(fd, front, sizeof front, 0);
    if (got < 0) return fail("cannot read: " + errno_text(errno));
    if (got < static_cast<ssize_t>(sizeof kMagic) || std::memcmp(front, kMagic, sizeof kMagic) != 0)
      return fail("not a ferry image (no FERRYIMG magic)");
    if (got < static_cast<ssize_t>(kImageFrontBytes))
      return fail("truncated: " + std::to_string(got) + " bytes, less than the 4096-byte front block");
    const auto version = static_cast<std::uint32_t>(get_le(front + 8, 4));
    if (version != kImageVersion)
      return fail("format version " + std::to_string(version) + "; this ferry reads version " +
                  std::to_string(kImageVersion));
    if (const auto flags = static_cast<std::uint32_t>(get_le(front + 12, 4)); flags != 0)
      return fail("front block: unknown flags " + hex32(flags));
    // The rest of the front block is zero: the index checksum does not cover it.
    for (std::size_t i = kHeaderBytes; i < kImageFrontBytes; ++i)
      if (front[i] != 0) return fail("front block damaged: byte " + std::to_string(i) + " is not zero");
    const std::uint64_t index_offset = get_le(front + 16, 8);
    const auto index_bytes = static_cast<std::uint32_t>(get_le(front + 24, 4));
    const auto index_crc = static_cast<std::uint32_t>(get_le(front + 28, 4));
    if (index_bytes == 0 || index_bytes > kMaxIndexBytes)
      return fail("front block: index size " + std::to_string(index_bytes) + " is not within 1 byte..64 MiB");
    if (index_offset < kImageFrontBytes)
      return fail("front block: index offset " + std::to_string(index_offset) + " lies inside the front block");
    if (index_offset > file_bytes || index_bytes > file_bytes - index_offset)
      return fail("truncated: index ends at byte " + std::to_string(index_offset + index_bytes) + " of " +
                  std::to_string(file_bytes));

    std::string text(index_bytes, '\0');
    const ssize_t n = pread_full(fd, text.data(), index_bytes, index_offset);
    if (n < 0) return fail("cannot read the index: " + errno_text(errno));
    if (n < static_cast<ssize_t>(index_bytes)) return fail("truncated: index cut short");
    if (const auto crc = crc32c(text.data(), text.size()); crc != index_crc)
      return fail("index checksum mismatch (front block says " + hex32(index_crc) + ", index gives " + hex32(crc) +
                  ")");
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail("index is not valid JSON");
    std::string why;
    if (!parse_index(j, index_, why)) return fail(why);
    if (index_.total_bytes != file_bytes)
      return fail((file_bytes < index_.total_bytes ? "truncated: " : "") + std::string("file has ") +
                  std::to_string(file_bytes) + " bytes, index says " + std::to_string(index_.total_bytes));
    std::set<std::int32_t> ids;
    for (const auto& r : index_.regions) {
      const std::string what = "region " + std::to_string(r.id);
      if (!ids.insert(r.id).second) return fail("index: " + what + " appears twice");
      if (!check_extent(what, r.offset, r.bytes, index_offset, file_bytes, why)) return fail(why);
    }
    for (std::size_t i = 0; i < index_.messages.size(); ++i) {
      const auto& m = index_.messages[i];
      if (!check_extent("message " + std::to_string(i), m.offset, m.bytes, index_offset, file_bytes, why))
        return fail(why);
    }
    // Regions are read front to back, once: tell readahead.
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    fd_ = fd;
    error.clear();
    return true;
  } catch (const std::exception& e) {
    return fail(std::string("unexpected error: ") + e.what());
  } catch (...) {
    return fail("unexpected error");
  }
}

const ImageIndex::Region* ImageReader::region(std::int32_t id) const {
  for (const auto& r : index_.regions)
    if (r.id == id) return &r;
  return nullptr;
}

bool ImageReader::read_region(std::int32_t id, void* dst, std::string& error) {
  if (fd_ < 0) return failed(error, path_ + ": not open");
  const auto* r = region(id);
  if (!r) return failed(error, path_ + ": no region " + std::to_string(id) + " in the image");
  try {
    return read_checked(fd_, path_, "region " + std::to_string(id), r->offset, r->bytes, r->crc32c,
                        static_cast<unsigned char*>(dst), true, error);
  } catch (const std::exception& e) {  // bad_alloc: nothing else in here throws
    return failed(error, path_ + ": unexpected error: " + e.what());
  }
}

bool ImageReader::read_messages(std::vector<DrainedMessage>& out, std::string& error) {
  if (fd_ < 0) return failed(error, path_ + ": not open");
  try {
    std::vector<DrainedMessage> messages;
    messages.reserve(index_.messages.size());
    for (std::size_t i = 0; i < index_.messages.size(); ++i) {
      const auto& m = index_.messages[i];
      DrainedMessage d{m.comm, m.source, m.tag, std::vector<std::uint8_t>(m.bytes)};
      if (!read_checked(fd_, path_, "message " + std::to_string(i), m.offset, m.bytes, m.crc32c, d.data.data(), true,
                        error))
        return false;
      messages.push_back(std::move(d));
    }
    out = std::move(messages);
    return true;
  } catch (const std::exception& e) {  // bad_alloc: nothing else in here throws
    return failed(error, path_ + ": unexpected error: " + e.what());
  }
}

bool ImageReader::verify(std::string& error) {
  if (fd_ < 0) return failed(error, path_ + ": not open");
  try {
    std::uint64_t largest = 1;
    for (const auto& r : index_.regions) largest = std::max(largest, r.bytes);
    for (const auto& m : index_.messages) largest = std::max(largest, m.bytes);
    std::vector<unsigned char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(largest, kChunk)));
    for (const auto& r : index_.regions)
      if (!read_checked(fd_, path_, "region " + std::to_string(r.id), r.offset, r.bytes, r.crc32c, buffer.data(), false,
                        error))
        return false;
    for (std::size_t i = 0; i < index_.messages.size(); ++i) {
      const auto& m = index_.messages[i];
      if (!read_checked(fd_, path_, "message " + std::to_string(i), m.offset, m.bytes, m.crc32c, buffer.data(), false,
                        error))
        return false;
    }
    error.clear();
    return true;
  } catch (const std::exception& e) {  // bad_alloc: nothing else in here throws
    return failed(error, path_ + ": unexpected error: " + e.what());
  }
}

}  // namespace ferry::migrate
