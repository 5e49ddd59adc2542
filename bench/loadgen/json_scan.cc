#include "json_scan.h"

#include <cstdlib>
#include <string>

namespace loadgen {

std::optional<std::string_view> RawField(std::string_view json, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\"";
  size_t at = json.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  at = json.find_first_not_of(" \t\r\n", at + key.size());
  if (at == std::string_view::npos || json[at] != ':') return std::nullopt;
  at = json.find_first_not_of(" \t\r\n", at + 1);
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = at;
  if (json[at] == '"') {
    end = at + 1;
    while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
    return json.substr(at + 1, std::min(end, json.size()) - at - 1);
  }
  while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
  return json.substr(at, end - at);
}

std::optional<int64_t> IntegerField(std::string_view json, std::string_view name) {
  auto raw = RawField(json, name);
  if (!raw || raw->empty()) return std::nullopt;
  char* end = nullptr;
  std::string text(*raw);
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return value;
}

std::optional<uint64_t> TaskIdField(std::string_view json) {
  auto raw = RawField(json, "task_id");
  if (!raw || raw->empty()) return std::nullopt;
  std::string text(*raw);
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return value;
}

bool IsSuccess(const HttpResponse& response) {
  return response.status == 200 && IntegerField(response.body, "dm_error") == 0;
}

std::optional<uint64_t> ParsePositiveDecimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value == 0) return std::nullopt;
  return value;
}

}  // namespace loadgen
