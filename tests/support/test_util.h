#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace delayq::testing {

// Wall-clock unix milliseconds: the same clock delayq stamps due times with.
int64_t WallClockMs();

// `text` as a JSON string literal, quotes and escapes included.
std::string JsonQuoted(const std::string& text);

// Runs a shell command (e.g. the curl examples of docs/API.md) and returns its stdout.
std::string RunCommand(const std::string& command);

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or could not start
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `argv` (argv[0] a path, no shell) to completion with `env` added to (or replacing
// entries of) this process's environment, and captures stdout and stderr separately.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& env = {});

// Parses "Name: value" lines (after the start line) of an HTTP header block into lower-cased
// names. Returns the start line.
std::string ParseHeaderBlock(std::string_view head, std::map<std::string, std::string>* headers);

}  // namespace delayq::testing
