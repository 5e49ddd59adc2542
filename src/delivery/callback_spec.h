#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace delayq::delivery {

// Where and how to call back, as stored with a task (Task::callback, JSON). Either an
// absolute `url`, or a `service` from the registry plus a `path` on it (seed v2: sn + url).
struct CallbackSpec {
  std::string url;
  std::string service;
  std::string path;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timeout_ms = 0;  // 0: callbacks.timeout
};

std::string EncodeCallbackSpec(const CallbackSpec& spec);
Result<CallbackSpec> DecodeCallbackSpec(std::string_view json);

// Parses and checks the v1 `callback` object (already parsed from JSON text `json`).
// Field names in messages start with `field` ("callback", "tasks[2].callback").
Result<CallbackSpec> ParseCallbackObject(std::string_view json, std::string_view field);

struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
};

// Absolute http(s) URLs only; names the field in its messages.
Result<ParsedUrl> ParseHttpUrl(std::string_view url, std::string_view field);

}  // namespace delayq::delivery
