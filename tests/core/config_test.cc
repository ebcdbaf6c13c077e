#include "core/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ferry::core {
namespace {

using Env = std::map<std::string, std::string>;
using Strings = std::vector<std::string>;

// Each test gets its own directory so files never leak between tests or into the source tree.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "ferry-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  Config load(const std::optional<std::string>& file, const Env& env = {},
              const Strings& overrides = {}) {
    errors_.clear();
    LoadOptions options;
    options.file = file;
    options.environment = &env;
    options.overrides = overrides;
    return Config::load(options, errors_);
  }

  std::string dir_;
  Strings errors_;
};

// Keeps failures readable: the whole error list is printed when an expectation misses.
::testing::AssertionResult has_error(const Strings& errors, const std::string& expected) {
  if (std::find(errors.begin(), errors.end(), expected) != errors.end())
    return ::testing::AssertionSuccess();
  auto result = ::testing::AssertionFailure() << "missing: " << expected << "\nerrors were:";
  for (const auto& e : errors) result << "\n  " << e;
  return result;
}

TEST(Schema, EnvNameIsUpperCased) {
  EXPECT_EQ(env_name("monitor", "papi_events"), "FERRY_MONITOR_PAPI_EVENTS");
  EXPECT_EQ(env_name("log", "level"), "FERRY_LOG_LEVEL");
}

TEST(Schema, KeysAreInPrintOrderAndDefaultsHaveTheirType) {
  const auto& keys = schema();
  ASSERT_EQ(keys.size(), 20u);
  EXPECT_EQ(keys.front().key, "interval");
  EXPECT_EQ(keys.back().section, "migrate");
  for (const auto& spec : keys)
    EXPECT_EQ(static_cast<std::size_t>(spec.type), spec.default_value.index());
  EXPECT_EQ(&schema(), &keys);  // built once
}

TEST(Schema, ReservedVariablesAreNotKeys) {
  const auto& reserved = reserved_variables();
  EXPECT_EQ(reserved.size(), 9u);
  for (const auto& spec : schema())
    EXPECT_EQ(std::count(reserved.begin(), reserved.end(), env_name(spec.section, spec.key)), 0);
}

TEST_F(ConfigTest, Defaults) {
  const Config config = load(std::nullopt);
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(config.file(), "");
  EXPECT_DOUBLE_EQ(config.get_double("monitor.interval"), 1.0);
  EXPECT_EQ(config.get_list("monitor.papi_events"), (Strings{"PAPI_TOT_INS", "PAPI_TOT_CYC"}));
  EXPECT_EQ(config.get_string("monitor.report"), "");
  EXPECT_TRUE(config.get_bool("monitor.table"));
  EXPECT_EQ(config.get_int("monitor.queue_samples"), 4096);
  EXPECT_EQ(config.get_string("log.level"), "info");
  EXPECT_EQ(config.get_string("collector.address"), "");
  for (const auto& s : config.settings()) {
    EXPECT_EQ(s.source, Source::Default);
    EXPECT_EQ(s.origin, "default");
  }
  EXPECT_EQ(Config::defaults().settings().size(), schema().size());
}

TEST_F(ConfigTest, FileValuesOfEveryType) {
  const auto path = write("a.toml", R"(# comment
[monitor]
interval = 2
papi_events = ["PAPI_L1_DCM"]
report = "out.json"
table = false
queue_samples = 64
[log]
level = "debug"
[collector]
address = "host:7000"
)");
  const Config config = load(path);
  EXPECT_TRUE(errors_.empty()) << errors_.front();
  EXPECT_EQ(config.file(), path);
  EXPECT_DOUBLE_EQ(config.get_double("monitor.interval"), 2.0);  // TOML integer taken as number
  EXPECT_EQ(config.get_list("monitor.papi_events"), Strings{"PAPI_L1_DCM"});
  EXPECT_EQ(config.get_string("monitor.report"), "out.json");
  EXPECT_FALSE(config.get_bool("monitor.table"));
  EXPECT_EQ(config.get_int("monitor.queue_samples"), 64);
  EXPECT_EQ(config.get_string("log.level"), "debug");
  EXPECT_EQ(config.get_string("collector.address"), "host:7000");
  EXPECT_EQ(config.setting("monitor.interval").source, Source::File);
  EXPECT_EQ(config.setting("monitor.interval").origin, path + ":3");
  EXPECT_EQ(config.setting("collector.address").origin, path + ":11");
}

TEST_F(ConfigTest, PrecedenceDefaultFileEnvCli) {
  const auto path =
      write("p.toml", "[monitor]\ninterval = 2.5\nqueue_samples = 100\ntable = false\n");
  const Env env = {{"FERRY_MONITOR_QUEUE_SAMPLES", "200"}, {"FERRY_MONITOR_TABLE", "yes"}};
  const Config config = load(path, env, {"monitor.table=off"});
  ASSERT_TRUE(errors_.empty()) << errors_.front();

  const auto& interval = config.setting("monitor.interval");
  EXPECT_DOUBLE_EQ(std::get<double>(interval.value), 2.5);
  EXPECT_EQ(interval.source, Source::File);
  EXPECT_EQ(interval.origin, path + ":2");

  const auto& queue = config.setting("monitor.queue_samples");
  EXPECT_EQ(config.get_int("monitor.queue_samples"), 200);
  EXPECT_EQ(queue.source, Source::Env);
  EXPECT_EQ(queue.origin, "FERRY_MONITOR_QUEUE_SAMPLES");

  const auto& table = config.setting("monitor.table");
  EXPECT_FALSE(config.get_bool("monitor.table"));
  EXPECT_EQ(table.source, Source::Cli);
  EXPECT_EQ(table.origin, "command line");

  EXPECT_EQ(config.setting("log.level").source, Source::Default);
}

TEST_F(ConfigTest, FileChosenByFerryConfigVariable) {
  const auto path = write("env.toml", "[log]\nlevel = \"warn\"\n");
  const Config config = load(std::nullopt, {{"FERRY_CONFIG", path}});
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(config.file(), path);
  EXPECT_EQ(config.get_string("log.level"), "warn");
}

TEST_F(ConfigTest, ExplicitOptionBeatsFerryConfig) {
  const auto a = write("a.toml", "[log]\nlevel = \"warn\"\n");
  const auto b = write("b.toml", "[log]\nlevel = \"error\"\n");
  const Config config = load(a, {{"FERRY_CONFIG", b}});
  EXPECT_EQ(config.get_string("log.level"), "warn");
}

TEST_F(ConfigTest, DefaultFileInWorkingDirectory) {
  write("ferry.toml", "[monitor]\n\ninterval = 0.5\n");
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  const Config found = load(std::nullopt);
  const Config disabled = load(std::nullopt, {{"FERRY_CONFIG", ""}});
  std::filesystem::current_path(previous);
  EXPECT_EQ(found.file(), "ferry.toml");
  EXPECT_DOUBLE_EQ(found.get_double("monitor.interval"), 0.5);
  EXPECT_EQ(found.setting("monitor.interval").origin, "ferry.toml:3");
  EXPECT_EQ(disabled.file(), "");
  EXPECT_DOUBLE_EQ(disabled.get_double("monitor.interval"), 1.0);
}

TEST_F(ConfigTest, UnreadableExplicitFile) {
  const std::string missing = dir_ + "/missing.toml";
  load(missing);
  EXPECT_TRUE(has_error(errors_, missing + ": cannot read: No such file or directory"));
  load(std::nullopt, {{"FERRY_CONFIG", dir_}});
  EXPECT_TRUE(has_error(errors_, dir_ + ": cannot read: Is a directory"));
}

TEST_F(ConfigTest, TomlSyntaxErrorIsOneLineWithLineNumber) {
  const auto path = write("bad.toml", "[monitor]\ninterval = 1\ntable\n");
  const Config config = load(path);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].rfind(path + ":3: TOML syntax error: ", 0), 0u) << errors_[0];
  EXPECT_EQ(errors_[0].find('\n'), std::string::npos) << errors_[0];
  EXPECT_EQ(config.file(), "");
  EXPECT_EQ(config.setting("monitor.interval").source, Source::Default);
}

TEST_F(ConfigTest, UnknownKeySectionAndTopLevelKey) {
  const auto path = write("k.toml", R"(interval = 1
[monitor]
interval = 2

intervall = 3
[monitor.sub]
x = 1
[monitr]
interval = 4
)");
  const Config config = load(path);
  EXPECT_EQ(errors_.size(), 4u);
  EXPECT_TRUE(has_error(errors_, path +
                                     ":1: interval: unknown key (keys belong in a section: "
                                     "collector, exporter, log, migrate, monitor, run, status; did you mean monitor.interval?)"));
  EXPECT_TRUE(has_error(errors_, path + ":5: monitor.intervall: unknown key (keys of [monitor]: "
                                        "interval, papi_events, queue_samples, report, table)"));
  EXPECT_TRUE(has_error(errors_, path + ":6: monitor.sub: unknown key (keys of [monitor]: "
                                        "interval, papi_events, queue_samples, report, table)"));
  EXPECT_TRUE(has_error(errors_, path + ":8: [monitr]: unknown section (sections: collector, "
                                        "exporter, log, migrate, monitor, run, status)"));
  EXPECT_DOUBLE_EQ(config.get_double("monitor.interval"), 2.0);
}

TEST_F(ConfigTest, WrongTypeInFileForEveryType) {
  const auto path = write("t.toml", R"([monitor]
papi_events = 3
interval = "fast"
table = "yes"
queue_samples = 16.5
report = 7
[log]
level = ["info"]
)");
  load(path);
  EXPECT_EQ(errors_.size(), 6u);
  EXPECT_TRUE(
      has_error(errors_, path + ":2: monitor.papi_events: expected a list of strings, got 3"));
  EXPECT_TRUE(has_error(errors_, path + ":3: monitor.interval: expected a number, got \"fast\""));
  EXPECT_TRUE(has_error(errors_, path + ":4: monitor.table: expected true or false, got \"yes\""));
  EXPECT_TRUE(
      has_error(errors_, path + ":5: monitor.queue_samples: expected an integer, got 16.5"));
  EXPECT_TRUE(has_error(errors_, path + ":6: monitor.report: expected a string, got 7"));
  EXPECT_TRUE(has_error(errors_, path + ":8: log.level: expected a string, got [\"info\"]"));
}

TEST_F(ConfigTest, ListWithNonStringAndNonFiniteNumber) {
  const auto path = write("l.toml", "[monitor]\npapi_events = [\"A\", 1]\ninterval = nan\n");
  load(path);
  EXPECT_TRUE(has_error(errors_, path + ":2: monitor.papi_events: expected a list of strings, "
                                        "got [\"A\", 1]"));
  EXPECT_TRUE(has_error(errors_, path + ":3: monitor.interval: expected a number, got nan"));
}

TEST_F(ConfigTest, OutOfRangeAndBadChoiceInFile) {
  const auto path = write("r.toml",
                          "[monitor]\ninterval = 0.001\nqueue_samples = 8\n"
                          "[log]\nlevel = \"loud\"\n");
  load(path);
  EXPECT_EQ(errors_.size(), 3u);
  EXPECT_TRUE(
      has_error(errors_, path + ":2: monitor.interval: 0.001 is out of range (0.01 .. 3600)"));
  EXPECT_TRUE(
      has_error(errors_, path + ":3: monitor.queue_samples: 8 is out of range (16 .. 1048576)"));
  EXPECT_TRUE(has_error(errors_, path + ":5: log.level: unknown \"loud\" (choices: debug, error, "
                                        "info, warn)"));
}

TEST_F(ConfigTest, EnvironmentValuesParseByType) {
  const Env env = {{"FERRY_MONITOR_TABLE", "OFF"},
                   {"FERRY_MONITOR_QUEUE_SAMPLES", "+1024"},
                   {"FERRY_MONITOR_INTERVAL", " 2.5e-1 "},
                   {"FERRY_MONITOR_PAPI_EVENTS", " PAPI_A , PAPI_B,"},
                   {"FERRY_MONITOR_REPORT", " spaced name.json"},
                   {"FERRY_LOG_LEVEL", "error"}};
  const Config config = load(std::nullopt, env);
  EXPECT_TRUE(errors_.empty()) << errors_.front();
  EXPECT_FALSE(config.get_bool("monitor.table"));
  EXPECT_EQ(config.get_int("monitor.queue_samples"), 1024);
  EXPECT_DOUBLE_EQ(config.get_double("monitor.interval"), 0.25);
  EXPECT_EQ(config.get_list("monitor.papi_events"), (Strings{"PAPI_A", "PAPI_B"}));
  EXPECT_EQ(config.get_string("monitor.report"), " spaced name.json");
  EXPECT_EQ(config.get_string("log.level"), "error");

  const Config empty = load(std::nullopt, {{"FERRY_MONITOR_PAPI_EVENTS", ""}});
  EXPECT_TRUE(empty.get_list("monitor.papi_events").empty());
  for (const char* truthy : {"1", "true", "Yes", "ON"}) {
    const Config c = load(std::nullopt, {{"FERRY_MONITOR_TABLE", truthy}}, {"monitor.table=0"});
    EXPECT_TRUE(errors_.empty());
    EXPECT_FALSE(c.get_bool("monitor.table"));
    EXPECT_TRUE(load(std::nullopt, {{"FERRY_MONITOR_TABLE", truthy}}).get_bool("monitor.table"));
  }
}

TEST_F(ConfigTest, BadEnvironmentValues) {
  const Env env = {{"FERRY_LOG_LEVEL", "loud"},
                   {"FERRY_MONITOR_INTERVAL", "1.5s"},
                   {"FERRY_MONITOR_QUEUE_SAMPLES", "1e3"},
                   {"FERRY_MONITOR_TABLE", "maybe"},
                   {"FERRY_COLLECTOR_ADDRESS", "h:1"}};
  const Config config = load(std::nullopt, env);
  EXPECT_EQ(errors_.size(), 4u);
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_LOG_LEVEL=loud: log.level: unknown \"loud\" (choices: "
                        "debug, error, info, warn)"));
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_MONITOR_INTERVAL=1.5s: monitor.interval: expected a "
                        "number, got \"1.5s\""));
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_MONITOR_QUEUE_SAMPLES=1e3: monitor.queue_samples: "
                        "expected an integer, got \"1e3\""));
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_MONITOR_TABLE=maybe: monitor.table: expected true or "
                        "false, got \"maybe\""));
  EXPECT_EQ(config.get_string("collector.address"), "h:1");
  for (const char* bad : {"nan", "inf", "-inf", "", "0x10"}) {
    load(std::nullopt, {{"FERRY_MONITOR_INTERVAL", bad}});
    EXPECT_EQ(errors_.size(), 1u) << bad;
  }
  load(std::nullopt, {{"FERRY_MONITOR_INTERVAL", "5000"}});
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_MONITOR_INTERVAL=5000: monitor.interval: 5000 is out of "
                        "range (0.01 .. 3600)"));
}

TEST_F(ConfigTest, UnknownEnvironmentVariable) {
  const Env env = {{"FERRY_MONITOR_INTERVALL", "1"},
                   {"FERRY_ENABEL", "1"},
                   {"FERRY_SOMETHING_ELSE_ENTIRELY", "1"},
                   {"PATH", "/bin"}};
  load(std::nullopt, env);
  EXPECT_EQ(errors_.size(), 3u);
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_MONITOR_INTERVALL: unknown variable (did you mean "
                        "FERRY_MONITOR_INTERVAL?)"));
  EXPECT_TRUE(has_error(errors_, "FERRY_ENABEL: unknown variable (did you mean FERRY_ENABLE?)"));
  EXPECT_TRUE(has_error(errors_,
                        "FERRY_SOMETHING_ELSE_ENTIRELY: unknown variable (keys are "
                        "FERRY_<SECTION>_<KEY> for: monitor.interval, monitor.papi_events, "
                        "monitor.report, monitor.table, monitor.queue_samples, log.level, "
                        "collector.address, run.dir, run.cores, status.window, exporter.listen, exporter.push, "
                        "exporter.rank_labels_max, migrate.dir, migrate.local_dir, migrate.shared_dir, migrate.filem, "
                        "migrate.crs, migrate.keep, migrate.timeout)"));
}

TEST_F(ConfigTest, ReservedVariablesAreNotFlagged) {
  Env env;
  for (const auto name : reserved_variables()) env.emplace(std::string(name), "1");
  env["FERRY_CONFIG"] = "";  // a real path would be read; empty means "no file"
  load(std::nullopt, env);
  EXPECT_TRUE(errors_.empty()) << errors_.front();
}

TEST_F(ConfigTest, ProcessEnvironmentWhenNoMapGiven) {
  ASSERT_EQ(::setenv("FERRY_LOG_LEVEL", "error", 1), 0);
  LoadOptions options;
  options.file = "";  // no file, whatever the working directory holds
  const Config config = Config::load(options, errors_);
  ::unsetenv("FERRY_LOG_LEVEL");
  EXPECT_EQ(config.get_string("log.level"), "error");
  EXPECT_EQ(config.setting("log.level").origin, "FERRY_LOG_LEVEL");
}

TEST_F(ConfigTest, CommandLineOverrides) {
  const Config config = load(std::nullopt, {},
                             {"monitor.interval=3", "log.level=warn", "log.level=debug",
                              "monitor.papi_events=A,B", "collector.address=x=y"});
  EXPECT_TRUE(errors_.empty()) << errors_.front();
  EXPECT_DOUBLE_EQ(config.get_double("monitor.interval"), 3.0);
  EXPECT_EQ(config.get_string("log.level"), "debug");  // last one wins
  EXPECT_EQ(config.get_list("monitor.papi_events"), (Strings{"A", "B"}));
  EXPECT_EQ(config.get_string("collector.address"), "x=y");
}

TEST_F(ConfigTest, BadCommandLineOverrides) {
  load(std::nullopt, {},
       {"monitor.interval", "monitr.interval=1", "monitor.intervall=1", "monitor.interval=fast"});
  EXPECT_EQ(errors_.size(), 4u);
  EXPECT_TRUE(has_error(errors_,
                        "command line \"monitor.interval\": malformed override "
                        "(expected section.key=value)"));
  EXPECT_TRUE(has_error(errors_,
                        "command line \"monitr.interval=1\": [monitr]: unknown section "
                        "(sections: collector, exporter, log, migrate, monitor, run, status)"));
  EXPECT_TRUE(has_error(errors_,
                        "command line \"monitor.intervall=1\": monitor.intervall: unknown "
                        "key (keys of [monitor]: interval, papi_events, queue_samples, "
                        "report, table)"));
  EXPECT_TRUE(has_error(errors_,
                        "command line \"monitor.interval=fast\": monitor.interval: "
                        "expected a number, got \"fast\""));
}

TEST_F(ConfigTest, AllErrorsReportedTogetherAndValidKeysStillLoad) {
  const auto path = write("m.toml",
                          "[monitor]\ninterval = \"fast\"\nqueue_samples = 32\n"
                          "[log]\nlevel = \"warn\"\n[monitr]\n");
  const Env env = {{"FERRY_MONITOR_INTERVAL", "0"},
                   {"FERRY_MONITOR_TABLE", "false"},
                   {"FERRY_MONITOR_QUEUE_SAMPLES", "ten"},
                   {"FERRY_TYPO", "1"}};
  const Config config = load(path, env, {"log.level=loud", "oops"});
  EXPECT_EQ(errors_.size(), 7u);
  // Every rejected value keeps what the layer below it said.
  EXPECT_DOUBLE_EQ(config.get_double("monitor.interval"), 1.0);
  EXPECT_EQ(config.setting("monitor.interval").source, Source::Default);
  EXPECT_EQ(config.get_int("monitor.queue_samples"), 32);
  EXPECT_EQ(config.setting("monitor.queue_samples").origin, path + ":3");
  EXPECT_EQ(config.get_string("log.level"), "warn");
  EXPECT_EQ(config.setting("log.level").source, Source::File);
  EXPECT_FALSE(config.get_bool("monitor.table"));
  EXPECT_EQ(config.setting("monitor.table").source, Source::Env);
}

TEST(Format, Values) {
  EXPECT_EQ(format_value(Value{1.0}), "1.0");
  EXPECT_EQ(format_value(Value{0.25}), "0.25");
  EXPECT_EQ(format_value(Value{1e-5}), "1.0e-05");
  EXPECT_EQ(format_value(Value{std::int64_t{4096}}), "4096");
  EXPECT_EQ(format_value(Value{true}), "true");
  EXPECT_EQ(format_value(Value{false}), "false");
  EXPECT_EQ(format_value(Value{std::string("a\"b\\c\n")}), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(format_value(Value{Strings{"a", "b"}}), "[\"a\", \"b\"]");
  EXPECT_EQ(format_value(Value{Strings{}}), "[]");
}

TEST_F(ConfigTest, FormatConfigShowsOrigins) {
  const auto path = write("f.toml", "[monitor]\n\n\ninterval = 2\n");
  const Config config = load(path, {{"FERRY_LOG_LEVEL", "warn"}}, {"monitor.table=false"});
  ASSERT_TRUE(errors_.empty());
  const std::string text = format_config(config);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), schema().size() + 1);
  EXPECT_EQ(lines[0], "# config file: " + path);
  EXPECT_EQ(lines[1].rfind("monitor.interval ", 0), 0u);
  EXPECT_NE(lines[1].find("= 2.0 "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("# " + path + ":4"), std::string::npos) << lines[1];
  EXPECT_NE(lines[4].find("= false "), std::string::npos) << lines[4];
  EXPECT_NE(lines[4].find("# command line"), std::string::npos) << lines[4];
  EXPECT_NE(lines[6].find("= \"warn\" "), std::string::npos) << lines[6];
  EXPECT_NE(lines[6].find("# FERRY_LOG_LEVEL"), std::string::npos) << lines[6];
  EXPECT_NE(lines[7].find("# default"), std::string::npos) << lines[7];
  // Columns line up: every "=" and every "#" at the same offset.
  for (std::size_t i = 2; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].find(" = "), lines[1].find(" = ")) << lines[i];
    EXPECT_EQ(lines[i].find(" # "), lines[1].find(" # ")) << lines[i];
  }
  EXPECT_EQ(format_config(Config::defaults()).rfind("# config file: (none)\n", 0), 0u);
}

TEST(ConfigDeathTest, MisuseAborts) {
  const Config config = Config::defaults();
  EXPECT_DEATH(config.get_int("monitor.nope"), "no such key");
  EXPECT_DEATH(config.get_int("monitor.interval"), "not an int");
}

}  // namespace
}  // namespace ferry::core
