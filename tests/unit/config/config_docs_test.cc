// docs/CONFIG.md and the settings table agree: every key of config::Settings() has a row in
// the "Settings" table with its flag, its environment variable and its default, and every row
// with a flag is a setting. A setting added, renamed or given a new default without its row
// fails here.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace delayq::config {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string text) {
  size_t start = text.find_first_not_of(' ');
  size_t end = text.find_last_not_of(' ');
  return start == std::string::npos ? "" : text.substr(start, end - start + 1);
}

// The first `backticked` word of a cell; "" when the cell has none ("none", "empty: ...").
std::string FirstTicked(const std::string& cell) {
  size_t open = cell.find('`');
  if (open == std::string::npos) return "";
  size_t close = cell.find('`', open + 1);
  return close == std::string::npos ? "" : cell.substr(open + 1, close - open - 1);
}

struct Row {
  std::string flag, env, default_value;
};

// The rows of the table under "## Settings", by key.
std::map<std::string, Row> SettingsTable(const std::string& markdown) {
  std::map<std::string, Row> rows;
  size_t at = markdown.find("\n## Settings\n");
  if (at == std::string::npos) return rows;
  std::istringstream lines(markdown.substr(at + 1));
  std::string line;
  std::getline(lines, line);  // the heading
  bool in_table = false;
  while (std::getline(lines, line)) {
    if (line.starts_with("## ")) break;
    if (!line.starts_with("|")) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    std::vector<std::string> cells;
    std::istringstream split(line.substr(1));
    for (std::string cell; std::getline(split, cell, '|');) cells.push_back(Trim(cell));
    if (cells.size() < 4 || !cells[0].starts_with('`')) continue;  // header, rule
    rows[FirstTicked(cells[0])] = {FirstTicked(cells[1]), FirstTicked(cells[2]),
                                   FirstTicked(cells[3])};
  }
  return rows;
}

// Every way `markdown` and Settings() disagree, one message each.
std::vector<std::string> Disagreements(const std::string& markdown) {
  std::vector<std::string> problems;
  std::map<std::string, Row> rows = SettingsTable(markdown);
  if (rows.empty()) return {"no table under '## Settings'"};
  std::set<std::string> keys;
  const Config defaults;
  for (const Setting& setting : Settings()) {
    keys.insert(setting.key);
    auto row = rows.find(setting.key);
    if (row == rows.end()) {
      problems.push_back(setting.key + ": no row in the table");
      continue;
    }
    if (row->second.flag != "--" + FlagName(setting.key)) {
      problems.push_back(setting.key + ": flag is --" + FlagName(setting.key) +
                         ", documented as '" + row->second.flag + "'");
    }
    if (row->second.env != EnvName(setting.key)) {
      problems.push_back(setting.key + ": environment variable is " + EnvName(setting.key) +
                         ", documented as '" + row->second.env + "'");
    }
    // The documented default, parsed as the setting parses any value, must give the default.
    Config documented;
    auto applied = setting.set(documented, row->second.default_value);
    if (!applied) {
      problems.push_back(setting.key + ": documented default '" + row->second.default_value +
                         "' is not a valid value: " + applied.error().message);
    } else if (!(documented == defaults)) {
      problems.push_back(setting.key + ": documented default '" + row->second.default_value +
                         "' is not the default of config::Config");
    }
  }
  for (const auto& [key, row] : rows) {
    // Rows without a flag are the file-only entries (services, topics,
    // sinks.kafka.properties, auth.tokens).
    if (!row.flag.empty() && !keys.contains(key)) {
      problems.push_back(key + ": documented with flag " + row.flag + " but not a setting");
    }
  }
  return problems;
}

std::string ConfigMd() { return ReadFile(std::string(DELAYQ_SOURCE_DIR) + "/docs/CONFIG.md"); }

TEST(ConfigDocs, EverySettingIsDocumentedWithItsFlagEnvironmentNameAndDefault) {
  std::string markdown = ConfigMd();
  ASSERT_FALSE(markdown.empty()) << "docs/CONFIG.md not found under " << DELAYQ_SOURCE_DIR;
  EXPECT_EQ(SettingsTable(markdown).size(), Settings().size() + 4)
      << "the settings plus services, topics, sinks.kafka.properties and auth.tokens";
  for (const std::string& problem : Disagreements(markdown)) ADD_FAILURE() << problem;
}

// The check catches each kind of drift.
std::string Edited(std::string markdown, const std::string& from, const std::string& to) {
  size_t at = markdown.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) markdown.replace(at, from.size(), to);
  return markdown;
}

TEST(ConfigDocs, TheCheckCatchesAMissingRowAndAWrongFlagEnvNameOrDefault) {
  std::string markdown = ConfigMd();
  std::string row_start = "| `redis.wait_timeout` |";
  size_t row = markdown.find(row_start);
  ASSERT_NE(row, std::string::npos);
  std::string without = markdown;
  without.erase(row, markdown.find('\n', row) + 1 - row);
  EXPECT_EQ(Disagreements(without),
            std::vector<std::string>{"redis.wait_timeout: no row in the table"});

  EXPECT_EQ(
      Disagreements(Edited(markdown, "`--redis-wait-timeout`", "`--redis-wait-time`")),
      std::vector<std::string>{"redis.wait_timeout: flag is --redis-wait-timeout, documented as "
                               "'--redis-wait-time'"});
  EXPECT_EQ(
      Disagreements(Edited(markdown, "| `DELAYQ_RETENTION` |", "| `DELAYQ_RETAIN` |")),
      std::vector<std::string>{"retention: environment variable is DELAYQ_RETENTION, documented as "
                               "'DELAYQ_RETAIN'"});
  EXPECT_EQ(Disagreements(Edited(markdown, "| `DELAYQ_RETENTION` | `72h` |",
                                 "| `DELAYQ_RETENTION` | `48h` |")),
            std::vector<std::string>{
                "retention: documented default '48h' is not the default of config::Config"});
  EXPECT_EQ(Disagreements(Edited(markdown, "| `retention` |", "| `retention_time` |")),
            (std::vector<std::string>{
                "retention: no row in the table",
                "retention_time: documented with flag --retention but not a setting"}));
}

}  // namespace
}  // namespace delayq::config
