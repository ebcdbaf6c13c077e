#include "mpirun.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ferry::test {

namespace {
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

RunResult run(const std::string& command, const std::map<std::string, std::string>& env, int seconds) {
  TempDir dir;
  std::string line = "env";
  for (const auto& [k, v] : env) line += " " + k + "=" + quote(v);
  line += " timeout -k 5 " + std::to_string(seconds) + " /bin/sh -c " + quote(command) + " >" + dir.file("out") +
          " 2>" + dir.file("err") + " </dev/null";
  const int raw = std::system(line.c_str());
  RunResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  r.out = read_file(dir.file("out"));
  r.err = read_file(dir.file("err"));
  return r;
}

std::string mpirun(int ranks, const std::vector<std::string>& exports, const std::string& program) {
  std::string cmd = std::string(FERRY_TEST_MPIEXEC) + " --oversubscribe --bind-to none -np " + std::to_string(ranks);
  for (const auto& e : exports) cmd += " -x " + e;
  return cmd + " " + program;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/ferry-test-XXXXXX";
  const char* p = mkdtemp(tmpl);
  path_ = p ? p : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (path_ != "/tmp") std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

}  // namespace ferry::test
