#include "cli/format.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace delayq::cli {

namespace json = boost::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsTaskId(std::string_view id) {
  return !id.empty() && id.size() <= 20 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         id.find_first_not_of('0') != std::string_view::npos;
}

std::string Text(const json::value* value) {
  if (value == nullptr || value->is_null()) return "-";
  if (value->is_string()) return std::string(value->as_string());
  return json::serialize(*value);
}

int64_t Int(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->as_uint64());
  return 0;
}

std::string Duration(int64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d";
  if (s >= 3600) out += std::to_string(s % 86400 / 3600) + "h";
  if (s >= 60) out += std::to_string(s % 3600 / 60) + "m";
  out += std::to_string(s % 60) + "s";
  return out;
}

std::string UtcTime(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char full[48];
  std::snprintf(full, sizeof full, "%s.%03dZ", text, static_cast<int>(ms % 1000));
  return full;
}

std::string Time(int64_t ms, int64_t now_ms) {
  if (ms <= 0) return "-";
  int64_t delta = ms - now_ms;
  std::string relative = delta >= 0 ? "in " + Duration(delta) : Duration(-delta) + " ago";
  return UtcTime(ms) + " (" + relative + ")";
}

std::string Truncate(std::string text, size_t max) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() <= max) return text;
  return text.substr(0, max - 3) + "...";
}

}  // namespace delayq::cli
