#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"

namespace ferry::core {

namespace {

// One builder per type keeps each table row short and makes the variant alternative explicit, so
// an integer default can never silently become a bool or a double.
KeySpec double_key(std::string_view section, std::string_view key, double def, double min,
                   double max, std::string_view description) {
  return {.section = section, .key = key, .type = Type::Double, .default_value = Value{def},
          .description = description, .choices = {}, .min = min, .max = max};
}

KeySpec int_key(std::string_view section, std::string_view key, std::int64_t def, double min,
                double max, std::string_view description) {
  return {.section = section, .key = key, .type = Type::Int, .default_value = Value{def},
          .description = description, .choices = {}, .min = min, .max = max};
}

KeySpec bool_key(std::string_view section, std::string_view key, bool def,
                 std::string_view description) {
  return {.section = section, .key = key, .type = Type::Bool, .default_value = Value{def},
          .description = description, .choices = {}, .min = std::nullopt, .max = std::nullopt};
}

KeySpec string_key(std::string_view section, std::string_view key, std::string def,
                   std::string_view description, std::vector<std::string_view> choices = {}) {
  return {.section = section, .key = key, .type = Type::String,
          .default_value = Value{std::move(def)}, .description = description,
          .choices = std::move(choices), .min = std::nullopt, .max = std::nullopt};
}

KeySpec list_key(std::string_view section, std::string_view key, std::vector<std::string> def,
                 std::string_view description) {
  return {.section = section, .key = key, .type = Type::StringList,
          .default_value = Value{std::move(def)}, .description = description, .choices = {},
          .min = std::nullopt, .max = std::nullopt};
}

std::vector<KeySpec> build_schema() {
  std::vector<KeySpec> keys;
  keys.push_back(
      double_key("monitor", "interval", 1.0, 0.01, 3600, "seconds between samples of each rank"));
  keys.push_back(list_key("monitor", "papi_events", {"PAPI_TOT_INS", "PAPI_TOT_CYC"},
                          "PAPI events counted per rank; unavailable ones are reported once and "
                          "skipped"));
  keys.push_back(string_key("monitor", "report", "",
                            "write the end-of-job per-rank report as JSON to this path (direct "
                            "mode)"));
  keys.push_back(bool_key("monitor", "table", true,
                          "print the per-rank table at MPI_Finalize (direct mode, rank 0)"));
  keys.push_back(int_key("monitor", "queue_samples", 4096, 16, 1048576,
                         "samples buffered per rank before new ones are dropped"));
  keys.push_back(string_key("log", "level", "info", "least severe message printed",
                            {"debug", "info", "warn", "error"}));
  keys.push_back(string_key("collector", "address", "",
                            "host:port of the collector ranks stream to; empty = rank 0 hosts one "
                            "(direct mode)"));
  keys.push_back(string_key("run", "dir", "",
                            "job registry of `ferry run` (job.json, control socket); empty = "
                            "/run/ferry as root, else $XDG_RUNTIME_DIR/ferry or /tmp/ferry-$UID"));
  keys.push_back(int_key("run", "cores", 0, 0, 4096,
                         "cores per node that generated rankfiles bind to; 0 = this machine's"));
  keys.push_back(double_key("status", "window", 10.0, 1, 3600,
                            "seconds of recent samples that `ferry status` averages over"));
  keys.push_back(string_key("exporter", "listen", "127.0.0.1:9464",
                            "host:port where `ferry run` serves Prometheus metrics at /metrics; "
                            "empty = off"));
  keys.push_back(string_key("exporter", "push", "",
                            "Pushgateway URL (http://host:port) the final metrics are pushed to"));
  keys.push_back(int_key("exporter", "rank_labels_max", 1024, 0, 10000000,
                         "jobs with more ranks export no per-rank series (cardinality)"));
  keys.push_back(string_key("migrate", "dir", "",
                            "where `ferry run` keeps committed checkpoints (epoch manifests); "
                            "empty = <run.dir>/checkpoints"));
  keys.push_back(string_key("migrate", "local_dir", "",
                            "node-local storage ranks write their images to; empty = "
                            "$FERRY_NODE_DIR, else migrate.dir"));
  keys.push_back(string_key("migrate", "shared_dir", "",
                            "a directory every node sees; images go there directly with filem "
                            "\"shared\""));
  keys.push_back(string_key("migrate", "filem", "auto",
                            "how images reach a moving rank's new node: mpi (streamed to a rank "
                            "there), shared (migrate.shared_dir), auto (shared when set, else mpi)",
                            {"auto", "mpi", "shared"}));
  keys.push_back(string_key("migrate", "crs", "self",
                            "how a rank's state is captured: self (its protected regions and "
                            "callbacks)",
                            {"self"}));
  keys.push_back(int_key("migrate", "keep", 2, 1, 1000, "committed epochs kept; older ones are deleted"));
  keys.push_back(double_key("migrate", "timeout", 300, 1, 86400,
                            "seconds a checkpoint may take, from request to the last rank's "
                            "report, before it is abandoned"));
  return keys;
}

}  // namespace

const std::vector<KeySpec>& schema() {
  // Function-local static: built once, thread-safe, and never before main() needs it.
  static const std::vector<KeySpec> keys = build_schema();
  return keys;
}

const std::vector<std::string_view>& reserved_variables() {
  // These are set by the launcher or the user to steer ferry itself, not to configure it, so the
  // loader must neither treat them as keys nor reject them as typos.
  static const std::vector<std::string_view> names = {
      "FERRY_ENABLE",   "FERRY_CONFIG",  "FERRY_JOB",       "FERRY_NODE_DIR",
      "FERRY_LIBRARY",  "FERRY_SIM_DIR", "FERRY_SIM_STATE", "FERRY_SIM_NODE",
      "FERRY_RESTART",
  };
  return names;
}

std::string env_name(std::string_view section, std::string_view key) {
  std::string name = "FERRY_";
  name.reserve(name.size() + section.size() + 1 + key.size());
  for (char c : section) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  name += '_';
  for (char c : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace ferry::core
