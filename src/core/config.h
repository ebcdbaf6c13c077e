// Configuration: built-in defaults < TOML file < FERRY_<SECTION>_<KEY> environment < command line.
// Every problem is collected (never thrown at the caller) with where it came from, the bad value
// and what would be valid, so a user fixes all of them in one pass.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ferry::core {

enum class Type { Bool, Int, Double, String, StringList };
enum class Source { Default, File, Env, Cli };

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>>;

/// One configuration key: its place, type, default, limits and documentation.
struct KeySpec {
  std::string_view section;      ///< "monitor"
  std::string_view key;          ///< "interval"
  Type type;
  Value default_value;
  std::string_view description;  ///< one line, shown by `ferry config --describe`
  std::vector<std::string_view> choices;  ///< allowed strings (empty: any)
  std::optional<double> min;     ///< inclusive bounds for Int and Double
  std::optional<double> max;
};

/// All keys ferry knows, in the order `ferry config` prints them.
const std::vector<KeySpec>& schema();

/// `FERRY_<SECTION>_<KEY>`, upper-cased: the single place these names are made.
std::string env_name(std::string_view section, std::string_view key);

/// FERRY_* environment variables that steer ferry but are not config keys (FERRY_ENABLE,
/// FERRY_CONFIG, ...): the loader neither applies them nor reports them as unknown.
const std::vector<std::string_view>& reserved_variables();

struct Setting {
  const KeySpec* spec;
  Value value;
  Source source;
  std::string origin;  ///< "default", "ferry.toml:12", "FERRY_MONITOR_INTERVAL", "command line"
};

struct LoadOptions {
  /// Explicit file (e.g. `--config F`); else FERRY_CONFIG; else ./ferry.toml if present.
  std::optional<std::string> file;
  /// Command-line overrides as "section.key=value".
  std::vector<std::string> overrides;
  /// Environment lookup; defaults to ferry::core::getenv. Tests pass their own.
  std::map<std::string, std::string> const* environment = nullptr;
};

class Config {
 public:
  /// Loads and validates. Problems go to `errors` (one line each); valid keys still load.
  static Config load(const LoadOptions& options, std::vector<std::string>& errors);
  static Config defaults();

  bool get_bool(std::string_view name) const;              ///< name = "section.key"
  std::int64_t get_int(std::string_view name) const;
  double get_double(std::string_view name) const;
  const std::string& get_string(std::string_view name) const;
  const std::vector<std::string>& get_list(std::string_view name) const;

  const Setting& setting(std::string_view name) const;
  const std::vector<Setting>& settings() const { return settings_; }
  /// Path of the file that was read, empty when none.
  const std::string& file() const { return file_; }

 private:
  std::vector<Setting> settings_;
  std::string file_;
};

/// Human-readable dump: one line per key, value and where it came from.
std::string format_config(const Config& config);
/// Text form of a value as TOML would write it.
std::string format_value(const Value& value);

}  // namespace ferry::core
