#include "migrate/filem.h"

#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include "core/registry.h"
#include "migrate/manifest.h"

namespace ferry::migrate {

namespace {

using nlohmann::json;

// Inside the safe point every rank is in ferry's code, so ferry's own messages on
// MPI_COMM_WORLD cannot meet an application receive.
constexpr int kTagData = 0x7E44;
constexpr int kTagReply = 0x7E45;
constexpr std::size_t kChunk = 64u << 20;
constexpr std::uint64_t kNoImage = std::numeric_limits<std::uint64_t>::max();

struct Move {
  int rank = -1;
  std::string node;
  int receiver = -1;
};

std::vector<Move> parse_moves(const json& moves) {
  std::vector<Move> out;
  for (const auto& m : moves)
    if (m.is_array() && m.size() == 3) out.push_back({m[0].get<int>(), m[1].get<std::string>(), m[2].get<int>()});
  return out;
}

void send_reply(int to, const std::string& text) {
  PMPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, to, kTagReply, MPI_COMM_WORLD);
}

std::string receive_reply(int from) {
  MPI_Status st;
  PMPI_Probe(from, kTagReply, MPI_COMM_WORLD, &st);
  int n = 0;
  PMPI_Get_count(&st, MPI_CHAR, &n);
  std::string text(static_cast<std::size_t>(n), '\0');
  PMPI_Recv(text.data(), n, MPI_CHAR, from, kTagReply, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return text;
}

// The mover: its image file, in chunks, then the receiver's answer ("ok:PATH" or "error:WHY").
bool send_image(const std::string& path, int to, std::string& image, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const off_t size = fd >= 0 ? ::lseek(fd, 0, SEEK_END) : -1;
  std::uint64_t announced = size >= 0 ? static_cast<std::uint64_t>(size) : kNoImage;
  std::string local_error;
  if (size < 0) local_error = path + ": cannot read the image to send: " + std::strerror(errno);
  PMPI_Send(&announced, 1, MPI_UINT64_T, to, kTagData, MPI_COMM_WORLD);
  std::vector<char> buf(announced == kNoImage ? 0 : std::min<std::uint64_t>(kChunk, announced));
  for (std::uint64_t at = 0; announced != kNoImage && at < announced;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, announced - at));
    const ssize_t got = ::pread(fd, buf.data(), n, static_cast<off_t>(at));
    if (got != static_cast<ssize_t>(n) && local_error.empty())
      local_error = path + ": cannot read the image to send: " + (got < 0 ? std::strerror(errno) : "short read");
    PMPI_Send(buf.data(), static_cast<int>(n), MPI_BYTE, to, kTagData, MPI_COMM_WORLD);
    at += n;
  }
  if (fd >= 0) ::close(fd);
  const std::string reply = receive_reply(to);
  if (!local_error.empty()) {
    error = local_error;
    return false;
  }
  if (reply.rfind("ok:", 0) == 0) {
    image = reply.substr(3);
    return true;
  }
  error = "rank " + std::to_string(to) + " could not store this rank's image: " + reply.substr(reply.find(':') + 1);
  return false;
}

// The receiver: written like any image (temp, fsync, rename), so a partial one never counts.
bool receive_image(const RankContext& c, std::uint64_t epoch, int from, std::string& error) {
  std::uint64_t size = 0;
  PMPI_Recv(&size, 1, MPI_UINT64_T, from, kTagData, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (size == kNoImage) {
    send_reply(from, "error:nothing was sent");
    return true;  // the mover reports its own failure
  }
  const std::string path = image_path(c.local_dir, c.job, epoch, static_cast<std::uint32_t>(from));
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::string why;
  if (fd < 0) why = tmp + ": cannot create: " + std::strerror(errno);
  std::vector<char> buf(static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size)));
  for (std::uint64_t at = 0; at < size;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - at));
    PMPI_Recv(buf.data(), static_cast<int>(n), MPI_BYTE, from, kTagData, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    // Keep receiving after a failed write: the mover's sends must all be matched.
    for (std::size_t done = 0; fd >= 0 && why.empty() && done < n;) {
      const ssize_t w = ::write(fd, buf.data() + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) why = tmp + ": cannot write: " + std::strerror(w < 0 ? errno : ENOSPC);
      else done += static_cast<std::size_t>(w);
    }
    at += n;
  }
  if (fd >= 0 && why.empty() && ::fsync(fd) != 0) why = tmp + ": cannot fsync: " + std::strerror(errno);
  if (fd >= 0) ::close(fd);
  if (why.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    why = path + ": cannot rename into place: " + std::strerror(errno);
  if (!why.empty()) {
    ::unlink(tmp.c_str());
    send_reply(from, "error:" + why);
    error = why;
    return false;
  }
  send_reply(from, "ok:" + path);
  return true;
}

class MpiFilem final : public Filem {
 public:
  std::string storage(const RankContext& c) const override { return c.local_dir; }

  bool transfer(const RankContext& c, std::uint64_t epoch, const json& moves, const std::string& own, std::string& image,
                std::string& restart_node, std::string& error) override {
    bool ok = true;
    // Every rank walks the same list in the same order and takes part only in its own pairs:
    // the earliest unfinished pair can always progress, so this cannot deadlock.
    for (const Move& m : parse_moves(moves)) {
      if (c.rank == m.rank) {
        restart_node = m.node;
        ok = send_image(own, m.receiver, image, error) && ok;
      } else if (c.rank == m.receiver) {
        std::string why;
        if (!receive_image(c, epoch, m.rank, why)) {
          ok = false;
          if (error.empty()) error = why;
        }
      }
    }
    return ok;
  }

  void undo(const RankContext& c, std::uint64_t epoch, const json& moves) noexcept override {
    try {
      for (const Move& m : parse_moves(moves))
        if (c.rank == m.receiver)
          ::unlink(image_path(c.local_dir, c.job, epoch, static_cast<std::uint32_t>(m.rank)).c_str());
    } catch (...) {
    }
  }
};

class SharedFilem final : public Filem {
 public:
  std::string storage(const RankContext& c) const override { return c.shared_dir; }

  bool transfer(const RankContext& c, std::uint64_t, const json& moves, const std::string& own, std::string& image,
                std::string& restart_node, std::string&) override {
    image = own;  // already where every node sees it
    for (const Move& m : parse_moves(moves))
      if (m.rank == c.rank) restart_node = m.node;
    return true;
  }
  void undo(const RankContext&, std::uint64_t, const json&) noexcept override {}
};

const core::Registry<Filem>& registry() {
  static const core::Registry<Filem> r = [] {
    core::Registry<Filem> reg("filem");
    reg.add("mpi", [] { return std::make_unique<MpiFilem>(); });
    reg.add("shared", [] { return std::make_unique<SharedFilem>(); });
    return reg;
  }();
  return r;
}

}  // namespace

std::unique_ptr<Filem> make_filem(const std::string& name, std::string& error) {
  try {
    return registry().make(name, error);
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

}  // namespace ferry::migrate
