#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace delayq::cli {

// How the client subcommands read the server's JSON and show it in tables.

int64_t NowMs();  // wall clock, unix milliseconds

// A task id as the server gives it: a positive decimal number of up to 20 digits.
bool IsTaskId(std::string_view id);

// The value as text for a table cell: strings as they are, other JSON compact; "-" for none.
std::string Text(const boost::json::value* value);

// An integer field of `object`, 0 when missing or not an integer.
int64_t Int(const boost::json::object& object, std::string_view key);

// "950ms", "42s", "1d2h3m4s".
std::string Duration(int64_t ms);

// "2026-11-26T10:10:00.000Z": a unix-ms time in UTC, as the API gives every time.
std::string UtcTime(int64_t ms);

// "2026-11-26T10:10:00.000Z (in 9m58s)", in UTC like every time the API gives; "-" for 0.
std::string Time(int64_t ms, int64_t now_ms);

// One line of at most `max` characters (control characters become spaces, "..." marks a cut).
std::string Truncate(std::string text, size_t max);

}  // namespace delayq::cli
