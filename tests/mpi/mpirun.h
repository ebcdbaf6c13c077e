// Running real jobs from tests: a shell command with its own environment, bounded in time, with
// stdout and stderr captured separately.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ferry::test {

struct RunResult {
  int status = -1;  ///< exit status; 124 when the time limit ended it
  std::string out;
  std::string err;
};

/// Runs `command` with /bin/sh, adding `env` to the environment, stopping it after `seconds`.
RunResult run(const std::string& command, const std::map<std::string, std::string>& env = {}, int seconds = 120);

/// mpirun with what this machine needs (root allowed, oversubscription), exporting `exports`.
std::string mpirun(int ranks, const std::vector<std::string>& exports, const std::string& program);

/// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

}  // namespace ferry::test
