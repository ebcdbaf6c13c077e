#include "migrate/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ferry::migrate {

namespace fs = std::filesystem;
using nlohmann::json;

std::string manifest_path(const std::string& dir, const std::string& job, std::uint64_t epoch) {
  return dir + "/" + job + "/epoch-" + std::to_string(epoch) + ".json";
}

std::string image_path(const std::string& storage, const std::string& job, std::uint64_t epoch, std::uint32_t rank) {
  return storage + "/" + job + "/epoch-" + std::to_string(epoch) + "/rank-" + std::to_string(rank) + ".img";
}

bool write_manifest(const std::string& path, const Manifest& m, std::string& error) {
  try {
    json j = {{"format", "ferry-manifest"}, {"version", 1}, {"job", m.job}, {"epoch", m.epoch},
              {"created", m.created}, {"command", m.command}, {"nodes", m.nodes}, {"filem", m.filem}};
    j["ranks"] = json::array();
    for (const auto& r : m.ranks)
      j["ranks"].push_back({{"rank", r.rank}, {"node", r.node}, {"slot", r.slot}, {"image", r.image}, {"bytes", r.bytes}});
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    const std::string text = j.dump(1) + "\n";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      error = tmp + ": cannot create: " + std::strerror(errno);
      return false;
    }
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
      error = tmp + ": cannot write: " + std::strerror(ok ? errno : saved);
      ::unlink(tmp.c_str());
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    error = path + ": " + e.what();
    return false;
  }
}

std::optional<Manifest> read_manifest(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string field;
  try {
    const json j = json::parse(ss.str());
    if (!j.is_object() || j.value("format", "") != "ferry-manifest") {
      error = path + ": not a ferry checkpoint manifest";
      return std::nullopt;
    }
    Manifest m;
    field = "version";
    if (j.at("version").get<int>() != 1) {
      error = path + ": manifest version " + j.at("version").dump() + "; this ferry reads version 1";
      return std::nullopt;
    }
    field = "job";
    m.job = j.at("job").get<std::string>();
    field = "epoch";
    m.epoch = j.at("epoch").get<std::uint64_t>();
    field = "created";
    m.created = j.at("created").get<std::string>();
    field = "command";
    m.command = j.at("command").get<std::vector<std::string>>();
    field = "nodes";
    m.nodes = j.at("nodes").get<std::vector<std::string>>();
    field = "filem";
    m.filem = j.at("filem").get<std::string>();
    field = "ranks";
    for (const auto& r : j.at("ranks")) {
      Manifest::Rank x;
      x.rank = r.at("rank").get<std::uint32_t>();
      x.node = r.at("node").get<std::string>();
      x.slot = r.at("slot").get<int>();
      x.image = r.at("image").get<std::string>();
      x.bytes = r.at("bytes").get<std::uint64_t>();
      if (x.rank != m.ranks.size()) {
        error = path + ": ranks: entry " + std::to_string(m.ranks.size()) + " is rank " + std::to_string(x.rank) +
                " (ranks must be listed 0, 1, 2, ...)";
        return std::nullopt;
      }
      m.ranks.push_back(std::move(x));
    }
    if (m.command.empty() || m.ranks.empty()) {
      error = path + ": " + (m.command.empty() ? "command" : "ranks") + " is empty";
      return std::nullopt;
    }
    return m;
  } catch (const std::exception& e) {
    error = path + ": " + (field.empty() ? std::string("") : "field \"" + field + "\": ") + e.what();
    return std::nullopt;
  }
}

std::vector<std::string> list_manifests(const std::string& dir, const std::string& job) {
  std::vector<std::pair<std::uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(dir) / job, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("epoch-", 0) != 0 || e.path().extension() != ".json") continue;
    try {
      found.emplace_back(std::stoull(name.substr(6)), e.path().string());
    } catch (...) {
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [epoch, p] : found) out.push_back(p);
  return out;
}

std::optional<std::string> resolve_checkpoint(const std::string& ckpt, std::string& error) {
  std::error_code ec;
  if (fs::is_regular_file(ckpt, ec)) return ckpt;
  if (!fs::is_directory(ckpt, ec)) {
    error = ckpt + ": no such checkpoint (give an epoch manifest, e.g. <migrate.dir>/JOB/epoch-3.json, or a job's "
            "checkpoint directory)";
    return std::nullopt;
  }
  fs::path p = fs::path(ckpt).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "dir/job/"
  const auto list = list_manifests(p.parent_path().string(), p.filename().string());
  if (list.empty()) {
    error = ckpt + ": holds no committed epoch (epoch-N.json)";
    return std::nullopt;
  }
  return list.back();
}

}  // namespace ferry::migrate
