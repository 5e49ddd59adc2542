#pragma once

// The v1 API's JSON: how tasks and answers are encoded, and the small decoders its handlers
// share (v1_api.cc for the handlers; DecodeV1Task and DecodeDueTime are in v1_api.h).

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/handler.h"
#include "queue/task.h"

namespace delayq::api {

http::Response JsonResponse(int status, const boost::json::value& body);

// An answer whose JSON `build()` makes on the I/O thread that writes it (Response::finish):
// for answers made on the store worker, which is the bottleneck when many tasks are due.
template <typename Build>
http::Response DeferredJson(int status, Build build) {
  http::Response response(status, "application/json", "");
  response.finish = [build = std::move(build)](http::Response& r) {
    r.body = boost::json::serialize(build());
  };
  return response;
}

// The payload as given: a JSON value when it was one, else a string.
boost::json::value PayloadValue(const Task& task);
std::string LeaseString(uint64_t token);  // 16 hex digits
// The state a user sees: a scheduled task whose time has come is "due".
std::string_view VisibleState(const Task& task, int64_t now_ms);
boost::json::object TaskJson(const Task& task, int64_t now_ms);
// "traceparent" and "tracestate" when the task has them (task and pulled objects).
void AddTraceFields(boost::json::object& out, const Task& task);

// The lease string of a pull answer, from a body's "lease"; `prefix` is prepended to the field
// name in messages ("acks[3].").
Result<uint64_t> DecodeLease(const boost::json::object& body, std::string_view prefix = "");
// An optional integer field within [min, max].
Result<std::optional<int64_t>> BoundedInteger(const boost::json::object& body,
                                              std::string_view prefix, std::string_view field,
                                              int64_t min, int64_t max);
// Parses an optional JSON request body: empty means {}.
Result<boost::json::object> OptionalBody(std::string_view body, std::string_view what);
// The value of one query parameter ("" when absent).
std::string_view QueryParam(std::string_view target, std::string_view name);

}  // namespace delayq::api
