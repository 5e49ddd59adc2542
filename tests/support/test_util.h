#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace delayq::testing {

// Wall-clock unix milliseconds: the same clock delayq stamps due times with.
int64_t WallClockMs();

// Runs a shell command (e.g. the curl examples of SPEC.md) and returns its stdout.
std::string RunCommand(const std::string& command);

// Parses "Name: value" lines (after the start line) of an HTTP header block into lower-cased
// names. Returns the start line.
std::string ParseHeaderBlock(std::string_view head, std::map<std::string, std::string>* headers);

}  // namespace delayq::testing
