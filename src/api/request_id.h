#pragma once

#include <string>
#include <string_view>

namespace delayq::api {

// Longest X-Request-Id taken from a client; a longer one is replaced.
inline constexpr size_t kMaxRequestIdBytes = 128;

// The request id of a request: the client's X-Request-Id when it is 1-128 characters of
// [A-Za-z0-9._:/+=-] (safe to log and to echo), otherwise a new random one (16 hex
// digits). Ids from proxies and tracing systems (UUIDs, "1-5f3c…" trace ids) fit.
std::string RequestIdFor(std::string_view given);

}  // namespace delayq::api
