// `ferry images`: lists checkpoint images and proves each one whole by reading it back entirely
// (front block, index, and the checksum of every region and drained message).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "migrate/image.h"

namespace ferry::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp =
    "usage: ferry images [--json] [--quiet] PATH...\n"
    "\n"
    "Lists checkpoint images and verifies each one completely: the front block, the index and\n"
    "the checksum of every region and drained message (the whole file is read). PATH is an image\n"
    "file or a directory, searched recursively for *.img. A *.img.tmp file is listed as\n"
    "incomplete (a write that did not finish, or one still going on); it is not an error.\n"
    "\n"
    "  --json    print a JSON array, one object per file, instead of the table\n"
    "  --quiet   print only the files that are not ok, and the summary line\n"
    "\n"
    "Exit status: 0 when every image verified, 1 when any is corrupt or unreadable, 2 on a usage\n"
    "error (no PATH, an unknown option, a PATH that does not exist).\n";

enum class State { ok, corrupt, unreadable, incomplete };

const char* state_name(State s) {
  switch (s) {
    case State::ok:
      return "ok";
    case State::corrupt:
      return "corrupt";
    case State::unreadable:
      return "unreadable";
    case State::incomplete:
      return "incomplete";
  }
  return "?";
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string human_bytes(std::uint64_t n) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n) / 1024;
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char b[32];
  std::snprintf(b, sizeof b, "%.1f %s", v, kUnits[u]);
  return b;
}

// The reader's errors start with the path; the line already does.
std::string reason_of(const std::string& path, const std::string& error) {
  const std::string prefix = path + ": ";
  return error.rfind(prefix, 0) == 0 ? error.substr(prefix.size()) : error;
}

struct Result {
  std::string path;
  State state = State::ok;
  std::string reason;
  bool has_index = false;
  migrate::ImageIndex index;
  std::uint64_t bytes = 0;
};

Result check(const std::string& path) {
  Result r;
  r.path = path;
  std::error_code ec;
  r.bytes = fs::file_size(path, ec);
  if (ec) r.bytes = 0;
  if (ends_with(path, ".tmp")) {
    r.state = State::incomplete;
    r.reason = "a write that did not finish";
    return r;
  }
  // Tell "cannot read it" apart from "read it, and it is damaged".
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.state = State::unreadable;
    r.reason = std::error_code(errno, std::generic_category()).message();
    return r;
  }
  ::close(fd);
  migrate::ImageReader reader;
  std::string error;
  if (reader.open(path, error)) {
    r.has_index = true;
    r.index = reader.index();
    r.bytes = r.index.total_bytes;
    if (reader.verify(error)) return r;
  }
  r.state = State::corrupt;
  r.reason = reason_of(path, error);
  return r;
}

nlohmann::json to_json(const Result& r) {
  nlohmann::json j = {{"path", r.path}, {"status", state_name(r.state)}, {"bytes", r.bytes}};
  if (!r.reason.empty()) j["error"] = r.reason;
  if (r.has_index) {
    const auto& x = r.index;
    j.update({{"job", x.job},
              {"epoch", x.epoch},
              {"rank", x.rank},
              {"size", x.size},
              {"node", x.node},
              {"created_ns", x.created_ns},
              {"regions", x.regions.size()},
              {"messages", x.messages.size()}});
  }
  return j;
}

void print_line(const Result& r, int path_width) {
  std::string status;
  switch (r.state) {
    case State::ok:
      status = "ok";
      break;
    case State::corrupt:
      status = "CORRUPT: " + r.reason;
      break;
    case State::unreadable:
      status = "UNREADABLE: " + r.reason;
      break;
    case State::incomplete:
      status = "incomplete (a write that did not finish)";
      break;
  }
  const std::string size = human_bytes(r.bytes);
  if (!r.has_index) {
    std::printf("%-*s %-16s %6s %7s %-12s %7s %8s %10s  %s\n", path_width, r.path.c_str(), "-", "-", "-", "-", "-", "-",
                size.c_str(), status.c_str());
    return;
  }
  const auto& x = r.index;
  const std::string rank = std::to_string(x.rank) + "/" + std::to_string(x.size);
  std::printf("%-*s %-16s %6llu %7s %-12s %7zu %8zu %10s  %s\n", path_width, r.path.c_str(), x.job.c_str(),
              static_cast<unsigned long long>(x.epoch), rank.c_str(), x.node.c_str(), x.regions.size(),
              x.messages.size(), size.c_str(), status.c_str());
}

// The files PATH names: itself, or the images and unfinished writes below it, sorted.
void collect(const std::string& path, std::vector<std::string>& out) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    out.push_back(path);
    return;
  }
  std::vector<std::string> found;
  for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if ((ends_with(name, ".img") || ends_with(name, ".img.tmp")) && it->is_regular_file(ec))
      found.push_back(it->path().string());
  }
  if (ec)
    std::fprintf(stderr, "ferry images: %s: %s (listing may be incomplete)\n", path.c_str(), ec.message().c_str());
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

}  // namespace

int cmd_images(const std::vector<std::string>& args) {
  bool json = false, quiet = false, options_done = false;
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (!options_done && (a == "--help" || a == "-h")) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (!options_done && a == "--json") {
      json = true;
    } else if (!options_done && (a == "--quiet" || a == "-q")) {
      quiet = true;
    } else if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && !a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ferry images: unknown option \"%s\"\n%s", a.c_str(), kHelp);
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    std::fprintf(stderr, "ferry images: no PATH given\n%s", kHelp);
    return 2;
  }
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      std::fprintf(stderr, "ferry images: %s: %s\n", p.c_str(),
                   ec ? ec.message().c_str() : "no such file or directory");
      return 2;
    }
  }

  std::vector<std::string> files;
  for (const auto& p : paths) collect(p, files);
  std::set<std::string> seen;
  files.erase(std::remove_if(files.begin(), files.end(), [&](const std::string& f) { return !seen.insert(f).second; }),
              files.end());

  int path_width = 4;
  for (const auto& f : files) path_width = std::max(path_width, static_cast<int>(f.size()));
  if (!json && !quiet && !files.empty())
    std::printf("%-*s %-16s %6s %7s %-12s %7s %8s %10s  %s\n", path_width, "path", "job", "epoch", "rank", "node",
                "regions", "messages", "size", "status");

  std::size_t counts[4] = {};
  nlohmann::json array = nlohmann::json::array();
  for (const auto& f : files) {
    const Result r = check(f);
    ++counts[static_cast<int>(r.state)];
    if (quiet && r.state == State::ok) continue;
    if (json) {
      array.push_back(to_json(r));
    } else {
      print_line(r, path_width);
      std::fflush(stdout);  // verifying a large image takes a while: show each line as it is known
    }
  }
  const std::size_t ok = counts[0], corrupt = counts[1], unreadable = counts[2], incomplete = counts[3];
  if (json) {
    std::puts(array.dump(2).c_str());
  } else {
    const std::size_t images = ok + corrupt + unreadable;
    std::string line = std::to_string(images) + (images == 1 ? " image, " : " images, ") + std::to_string(ok) + " ok";
    if (corrupt) line += ", " + std::to_string(corrupt) + " corrupt";
    if (unreadable) line += ", " + std::to_string(unreadable) + " unreadable";
    if (incomplete) line += "; " + std::to_string(incomplete) + " incomplete (.img.tmp)";
    std::puts(line.c_str());
  }
  return corrupt || unreadable ? 1 : 0;
}

}  // namespace ferry::cli
