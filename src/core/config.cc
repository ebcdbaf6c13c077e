#include "core/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <toml.hpp>

#include "core/environment.h"

namespace ferry::core {

namespace {

std::string full_name(const KeySpec& spec) {
  return std::string(spec.section) + "." + std::string(spec.key);
}

std::string join(std::vector<std::string> items, bool sort) {
  if (sort) std::sort(items.begin(), items.end());
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Shortest text that reads back as the same double, so bounds print as "0.01", not "0.010000".
std::string shortest(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(d);
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

const KeySpec* find_spec(std::string_view section, std::string_view key) {
  for (const auto& spec : schema())
    if (spec.section == section && spec.key == key) return &spec;
  return nullptr;
}

bool known_section(std::string_view section) {
  return std::any_of(schema().begin(), schema().end(),
                     [&](const KeySpec& s) { return s.section == section; });
}

std::string section_list() {
  std::vector<std::string> names;
  for (const auto& spec : schema())
    if (std::find(names.begin(), names.end(), spec.section) == names.end())
      names.emplace_back(spec.section);
  return join(std::move(names), true);
}

std::string unknown_section(std::string_view section) {
  return "[" + std::string(section) + "]: unknown section (sections: " + section_list() + ")";
}

std::string unknown_key(std::string_view section, std::string_view key) {
  std::vector<std::string> keys;
  for (const auto& spec : schema())
    if (spec.section == section) keys.emplace_back(spec.key);
  return std::string(section) + "." + std::string(key) + ": unknown key (keys of [" +
         std::string(section) + "]: " + join(std::move(keys), true) + ")";
}

// A key written above every [section] header is the likeliest slip; point at where it belongs.
std::string unknown_top_level_key(const std::string& key) {
  std::string message = key + ": unknown key (keys belong in a section: " + section_list();
  for (const auto& spec : schema())
    if (spec.key == key) return message + "; did you mean " + full_name(spec) + "?)";
  return message + ")";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_variable(const std::string& name) {
  std::vector<std::string> candidates(reserved_variables().begin(), reserved_variables().end());
  std::vector<std::string> keys;
  for (const auto& spec : schema()) {
    candidates.push_back(env_name(spec.section, spec.key));
    keys.push_back(full_name(spec));
  }
  std::string closest;
  std::size_t best = std::string::npos;
  for (const auto& c : candidates)
    if (const auto d = edit_distance(name, c); d < best) best = d, closest = c;
  // The second bound stops FERRY_X from being "corrected" to FERRY_JOB.
  if (best <= 3 && best < name.size() - std::strlen("FERRY_"))
    return "unknown variable (did you mean " + closest + "?)";
  return "unknown variable (keys are FERRY_<SECTION>_<KEY> for: " + join(std::move(keys), false) +
         ")";
}

std::string expectation(Type type) {
  switch (type) {
    case Type::Bool: return "expected true or false";
    case Type::Int: return "expected an integer";
    case Type::Double: return "expected a number";
    case Type::String: return "expected a string";
    case Type::StringList: return "expected a list of strings";
  }
  return "expected a value";
}

// How a TOML value appears in a message: close to how the user wrote it, so they can find it.
std::string show(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::string: return format_value(v.as_string().str);
    case toml::value_t::integer: return std::to_string(v.as_integer());
    case toml::value_t::floating: return format_value(v.as_floating());
    case toml::value_t::boolean: return v.as_boolean() ? "true" : "false";
    case toml::value_t::table: return "a table";
    case toml::value_t::array: {
      std::vector<std::string> items;
      for (const auto& e : v.as_array()) items.push_back(show(e));
      return "[" + join(std::move(items), false) + "]";
    }
    default: {  // dates and times
      std::ostringstream os;
      os << v;
      return std::string(trim(os.str()));
    }
  }
}

// nullopt when the TOML value has the wrong type for the key.
std::optional<Value> from_toml(const KeySpec& spec, const toml::value& v) {
  switch (spec.type) {
    case Type::Bool:
      if (v.is_boolean()) return Value{v.as_boolean()};
      break;
    case Type::Int:
      if (v.is_integer()) return Value{std::int64_t{v.as_integer()}};
      break;
    case Type::Double:  // integers too, so `interval = 2` works
      if (v.is_integer()) return Value{static_cast<double>(v.as_integer())};
      if (v.is_floating() && std::isfinite(v.as_floating())) return Value{v.as_floating()};
      break;
    case Type::String:
      if (v.is_string()) return Value{v.as_string().str};
      break;
    case Type::StringList: {
      if (!v.is_array()) break;
      std::vector<std::string> items;
      for (const auto& e : v.as_array()) {
        if (!e.is_string()) return std::nullopt;
        items.push_back(e.as_string().str);
      }
      return Value{std::move(items)};
    }
  }
  return std::nullopt;
}

// Environment and command-line values arrive as text; nullopt when it does not parse as the type.
std::optional<Value> from_text(const KeySpec& spec, std::string_view text) {
  const std::string_view t = trim(text);
  const std::string_view num = (!t.empty() && t[0] == '+') ? t.substr(1) : t;
  switch (spec.type) {
    case Type::Bool: {
      std::string l(t);
      for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (l == "1" || l == "true" || l == "yes" || l == "on") return Value{true};
      if (l == "0" || l == "false" || l == "no" || l == "off") return Value{false};
      return std::nullopt;
    }
    case Type::Int: {
      std::int64_t i = 0;
      auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), i);
      if (num.empty() || ec != std::errc() || end != num.data() + num.size()) return std::nullopt;
      return Value{i};
    }
    case Type::Double: {
      double d = 0;
      auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), d);
      if (num.empty() || ec != std::errc() || end != num.data() + num.size() || !std::isfinite(d))
        return std::nullopt;
      return Value{d};
    }
    case Type::String: return Value{std::string(text)};
    case Type::StringList: {
      // Empty items are dropped so "a,b," and "" mean what a shell user expects.
      std::vector<std::string> items;
      for (std::size_t start = 0; start <= text.size();) {
        const auto comma = std::min(text.find(',', start), text.size());
        if (auto item = trim(text.substr(start, comma - start)); !item.empty())
          items.emplace_back(item);
        start = comma + 1;
      }
      return Value{std::move(items)};
    }
  }
  return std::nullopt;
}

// Why a well-typed value is still not allowed; empty when it is. `shown` is the value as given.
std::string limit_problem(const KeySpec& spec, const Value& value, const std::string& shown) {
  std::optional<double> number;
  if (const auto* i = std::get_if<std::int64_t>(&value)) number = static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&value)) number = *d;
  if (number && ((spec.min && *number < *spec.min) || (spec.max && *number > *spec.max)))
    return shown + " is out of range (" + shortest(spec.min.value_or(-HUGE_VAL)) + " .. " +
           shortest(spec.max.value_or(HUGE_VAL)) + ")";
  const auto* s = std::get_if<std::string>(&value);
  if (s == nullptr || spec.choices.empty() ||
      std::find(spec.choices.begin(), spec.choices.end(), *s) != spec.choices.end())
    return {};
  std::vector<std::string> choices(spec.choices.begin(), spec.choices.end());
  return "unknown " + format_value(*s) + " (choices: " + join(std::move(choices), true) + ")";
}

// toml11 reports "[error] toml::parse_xxx: what\n --> file\n | ...^--- hint"; one line of it
// is enough next to our own path:line.
std::string short_syntax_message(const std::string& what) {
  std::string head = what.substr(0, what.find('\n'));
  if (head.rfind("[error] ", 0) == 0) head.erase(0, 8);
  if (const auto colon = head.find(": "); head.rfind("toml::", 0) == 0 && colon != head.npos)
    head.erase(0, colon + 2);
  if (const auto mark = what.rfind("^--- "); mark != std::string::npos) {
    const std::string hint(trim(what.substr(mark + 5, what.find('\n', mark) - mark - 5)));
    if (!hint.empty() && hint != "here") head += " (" + hint + ")";
  }
  return std::string(trim(head));
}

// POSIX rather than ifstream: a directory opens fine as a stream, and only errno says why not.
bool read_whole_file(const std::string& path, std::string& text, int& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : 1;
  char buf[8192];
  while (n > 0) {
    n = ::read(fd, buf, sizeof buf);
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    if (n < 0 && errno == EINTR) n = 1;
  }
  error = errno;
  if (fd >= 0) ::close(fd);
  return n == 0;
}

// toml11 tables are unordered; walking in file order reports errors top to bottom.
std::vector<std::pair<std::string, const toml::value*>> by_line(const toml::value& table) {
  std::vector<std::pair<std::string, const toml::value*>> entries;
  for (const auto& [name, value] : table.as_table()) entries.emplace_back(name, &value);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto la = a.second->location().line(), lb = b.second->location().line();
    return la != lb ? la < lb : a.first < b.first;
  });
  return entries;
}

// Lays one source over the ones below it. A rejected value leaves the key as the lower layer had
// it, so one typo never costs the user the rest of their configuration.
class Loader {
 public:
  Loader(std::vector<Setting>& settings, std::vector<std::string>& errors)
      : settings_(settings), errors_(errors) {}

  void error(const std::string& where, const std::string& message) {
    errors_.push_back(where + ": " + message);
  }

  // `got` is the value for a type error, `shown` for a range error ("0.001", not "\"0.001\"").
  void apply(const KeySpec& spec, std::optional<Value> value, const std::string& got,
             const std::string& shown, Source source, const std::string& origin,
             const std::string& where) {
    if (!value)
      return error(where, full_name(spec) + ": " + expectation(spec.type) + ", got " + got);
    if (auto problem = limit_problem(spec, *value, shown); !problem.empty())
      return error(where, full_name(spec) + ": " + problem);
    Setting& setting = settings_[static_cast<std::size_t>(&spec - schema().data())];
    setting.value = std::move(*value);
    setting.source = source;
    setting.origin = origin;
  }

  void apply_text(const KeySpec& spec, std::string_view text, Source source,
                  const std::string& origin, const std::string& where) {
    apply(spec, from_text(spec, text), format_value(std::string(text)), std::string(trim(text)),
          source, origin, where);
  }

  // Returns whether the file parsed, i.e. whether it is now the config's file.
  bool from_file(const std::string& path) {
    std::string text;
    if (int err = 0; !read_whole_file(path, text, err)) {
      error(path, std::string("cannot read: ") + std::strerror(err));
      return false;
    }
    toml::value root;
    try {
      std::istringstream in(text);
      root = toml::parse(in, path);
    } catch (const toml::syntax_error& e) {
      error(path + ":" + std::to_string(e.location().line()),
            "TOML syntax error: " + short_syntax_message(e.what()));
      return false;
    } catch (const std::exception& e) {  // anything else toml11 throws: still one line
      error(path, "cannot parse: " + short_syntax_message(e.what()));
      return false;
    }
    for (const auto& [section, body] : by_line(root)) {
      const std::string where = path + ":" + std::to_string(body->location().line());
      if (!body->is_table()) {
        error(where, known_section(section)
                         ? "[" + section + "]: expected a table, got " + show(*body)
                         : unknown_top_level_key(section));
      } else if (!known_section(section)) {
        error(where, unknown_section(section));
      } else {
        for (const auto& [key, v] : by_line(*body)) {
          const std::string at = path + ":" + std::to_string(v->location().line());
          const auto* spec = find_spec(section, key);
          if (spec == nullptr)
            error(at, unknown_key(section, key));
          else
            apply(*spec, from_toml(*spec, *v), show(*v), show(*v), Source::File, at, at);
        }
      }
    }
    return true;
  }

  void from_environment(const std::map<std::string, std::string>& env) {
    const auto& reserved = reserved_variables();
    for (const auto& [name, value] : env) {
      if (name.rfind("FERRY_", 0) != 0 ||
          std::find(reserved.begin(), reserved.end(), name) != reserved.end())
        continue;
      // Not a lambda: capturing a structured binding needs clang 16.
      auto spec = schema().begin();
      while (spec != schema().end() && env_name(spec->section, spec->key) != name) ++spec;
      if (spec == schema().end())
        error(name, unknown_variable(name));
      else
        apply_text(*spec, value, Source::Env, name, name + "=" + value);
    }
  }

  void from_override(const std::string& text) {
    const std::string where = "command line \"" + text + "\"";
    const auto eq = text.find('=');
    if (eq == std::string::npos)
      return error(where, "malformed override (expected section.key=value)");
    const std::string_view name = trim(std::string_view(text).substr(0, eq));
    const auto dot = std::min(name.find('.'), name.size());
    const auto section = name.substr(0, dot), key = name.substr(std::min(dot + 1, name.size()));
    if (!known_section(section)) return error(where, unknown_section(section));
    const auto* spec = find_spec(section, key);
    if (spec == nullptr) return error(where, unknown_key(section, key));
    apply_text(*spec, std::string_view(text).substr(eq + 1), Source::Cli, "command line", where);
  }

 private:
  std::vector<Setting>& settings_;
  std::vector<std::string>& errors_;
};

[[noreturn]] void misuse(std::string_view name, const char* problem) {
  std::fprintf(stderr, "ferry: internal error: config key \"%.*s\": %s\n",
               static_cast<int>(name.size()), name.data(), problem);
  std::abort();
}

template <class T>
const T& typed(const Config& config, std::string_view name, const char* problem) {
  const T* v = std::get_if<T>(&config.setting(name).value);
  if (v == nullptr) misuse(name, problem);
  return *v;
}

}  // namespace

Config Config::defaults() {
  Config config;
  for (const auto& spec : schema())
    config.settings_.push_back(Setting{&spec, spec.default_value, Source::Default, "default"});
  return config;
}

Config Config::load(const LoadOptions& options, std::vector<std::string>& errors) {
  Config config;
  try {
    config = defaults();
    Loader loader(config.settings_, errors);
    const auto env = options.environment ? *options.environment : ferry_environment();
    std::optional<std::string> file = options.file;
    if (!file)
      if (auto it = env.find("FERRY_CONFIG"); it != env.end()) file = it->second;
    if (!file && ::access("ferry.toml", F_OK) == 0) file = "ferry.toml";
    // An empty explicit name means "no file", so `FERRY_CONFIG=` can switch ./ferry.toml off.
    if (file && !file->empty() && loader.from_file(*file)) config.file_ = *file;
    loader.from_environment(env);
    for (const auto& o : options.overrides) loader.from_override(o);
  } catch (const std::exception& e) {
    try {
      errors.push_back(std::string("config: internal error: ") + e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      errors.push_back("config: internal error");
    } catch (...) {
    }
  }
  return config;
}

const Setting& Config::setting(std::string_view name) const {
  for (const auto& s : settings_) {
    const auto& sec = s.spec->section;
    if (name.size() > sec.size() && name.substr(0, sec.size()) == sec && name[sec.size()] == '.' &&
        name.substr(sec.size() + 1) == s.spec->key)
      return s;
  }
  misuse(name, "no such key");
}

bool Config::get_bool(std::string_view name) const {
  return typed<bool>(*this, name, "not a bool");
}
std::int64_t Config::get_int(std::string_view name) const {
  return typed<std::int64_t>(*this, name, "not an int");
}
double Config::get_double(std::string_view name) const {
  return typed<double>(*this, name, "not a double");
}
const std::string& Config::get_string(std::string_view name) const {
  return typed<std::string>(*this, name, "not a string");
}
const std::vector<std::string>& Config::get_list(std::string_view name) const {
  return typed<std::vector<std::string>>(*this, name, "not a string list");
}

std::string format_value(const Value& value) {
  struct Formatter {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      if (std::isnan(d)) return "nan";
      if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
      // A decimal digit keeps the type visible: TOML would read "1" back as an integer.
      std::string s = shortest(d);
      if (s.find('.') == std::string::npos) s.insert(std::min(s.find('e'), s.size()), ".0");
      return s;
    }
    std::string operator()(const std::string& s) const {
      constexpr std::string_view raw = "\"\\\b\f\n\r\t", named = "\"\\bfnrt";
      std::string out = "\"";
      for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (const auto at = raw.find(c); at != raw.npos) {
          out += '\\';
          out += named[at];
        } else if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
      }
      return out + "\"";
    }
    std::string operator()(const std::vector<std::string>& list) const {
      std::vector<std::string> items;
      for (const auto& s : list) items.push_back((*this)(s));
      return "[" + join(std::move(items), false) + "]";
    }
  };
  return std::visit(Formatter{}, value);
}

std::string format_config(const Config& config) {
  // Values wider than this are left unpadded so one long list does not push every comment away.
  constexpr std::size_t kMaxValueWidth = 40;
  std::size_t name_width = 0, value_width = 0;
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& s : config.settings()) {
    rows.emplace_back(full_name(*s.spec), format_value(s.value));
    name_width = std::max(name_width, rows.back().first.size());
    if (rows.back().second.size() <= kMaxValueWidth)
      value_width = std::max(value_width, rows.back().second.size());
  }
  std::string out =
      "# config file: " + (config.file().empty() ? std::string("(none)") : config.file()) + "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& [name, value] = rows[i];
    out += name + std::string(name_width - name.size(), ' ') + " = " + value +
           std::string(value_width > value.size() ? value_width - value.size() : 0, ' ') + " # " +
           config.settings()[i].origin + "\n";
  }
  return out;
}

}  // namespace ferry::core
