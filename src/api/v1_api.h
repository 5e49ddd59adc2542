#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "api/validate.h"
#include "common/result.h"
#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// The native API (docs/API.md, "Native API (v1)"): routes every request whose path starts with
// "/v1/". Ids are decimal strings, times unix milliseconds or RFC 3339.
// `who` is the caller's token (null when authentication is off).
void HandleV1(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
              const http::Request& request, http::Responder respond);

// Decoded, validated add of one task (exposed for unit tests). `prefix` is prepended to
// field names in messages ("tasks[3].").
Result<engine::NewTask> DecodeV1Task(std::string_view topic, const boost::json::object& body,
                                     const ApiConfig& api_config, int64_t now_ms,
                                     std::string_view prefix);

// A due time from exactly one of delay_ms / at_ms / at (none: now).
Result<int64_t> DecodeDueTime(const boost::json::object& body, const ApiConfig& api_config,
                              int64_t now_ms, std::string_view prefix);

// A JSON answer; the value of query parameter `name` in `target` ("" when absent).
http::Response V1JsonResponse(int status, const boost::json::value& body);
std::string_view V1QueryParam(std::string_view target, std::string_view name);

}  // namespace delayq::api
