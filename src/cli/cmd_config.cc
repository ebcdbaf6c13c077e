// `ferry config`: the configuration a rank would use, here, with where each value came from.
#include <cstdio>

#include "cli/commands.h"
#include "core/config.h"

namespace ferry::cli {

namespace {
constexpr const char* kHelp =
    "usage: ferry config [--file PATH] [--set SECTION.KEY=VALUE]... [--describe]\n"
    "\n"
    "Prints the effective configuration: built-in defaults, overridden by the TOML file\n"
    "(--file, else $FERRY_CONFIG, else ./ferry.toml), by FERRY_<SECTION>_<KEY> environment\n"
    "variables, and by --set, in that order. Each line says where its value came from.\n"
    "Every problem found is listed; the exit status is 2 if there was any.\n"
    "\n"
    "  --file PATH       read this TOML file\n"
    "  --set K=V         override one key, e.g. --set monitor.interval=0.5\n"
    "  --describe        also print what each key means\n";
}  // namespace

int cmd_config(const std::vector<std::string>& args) {
  core::LoadOptions options;
  bool describe = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (a == "--describe") {
      describe = true;
    } else if ((a == "--file" || a == "--set") && i + 1 < args.size()) {
      if (a == "--file") options.file = args[++i];
      else options.overrides.push_back(args[++i]);
    } else if (a.rfind("--file=", 0) == 0) {
      options.file = a.substr(7);
    } else if (a.rfind("--set=", 0) == 0) {
      options.overrides.push_back(a.substr(6));
    } else {
      std::fprintf(stderr, "ferry config: unexpected argument \"%s\"\n%s", a.c_str(), kHelp);
      return 2;
    }
  }
  std::vector<std::string> errors;
  const core::Config config = core::Config::load(options, errors);
  std::fputs(core::format_config(config).c_str(), stdout);
  if (describe) {
    std::puts("");
    for (const auto& k : core::schema())
      std::printf("%s.%s: %s\n", std::string(k.section).c_str(), std::string(k.key).c_str(),
                  std::string(k.description).c_str());
  }
  for (const auto& e : errors) std::fprintf(stderr, "ferry config: %s\n", e.c_str());
  if (!errors.empty()) {
    std::fprintf(stderr, "ferry config: %zu problem%s found\n", errors.size(), errors.size() == 1 ? "" : "s");
    return 2;
  }
  return 0;
}

}  // namespace ferry::cli
