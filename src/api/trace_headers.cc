#include "api/trace_headers.h"

#include <strings.h>

#include "api/json_fields.h"
#include "common/trace_context.h"

namespace delayq::api {

namespace {

Error TraceparentError(std::string_view what, std::string_view problem) {
  return Error{Errc::kInvalidArgument, std::string(what) + " is invalid: " + std::string(problem) +
                                           "; expected " + std::string(kTraceparentForm)};
}

Error TracestateError(std::string_view what, std::string_view problem) {
  return Error{Errc::kInvalidArgument, std::string(what) + " is invalid: " + std::string(problem)};
}

// Checks a pair, `names` saying where each came from in messages.
Result<TraceFields> Checked(std::string traceparent, std::string tracestate,
                            std::string_view parent_name, std::string_view state_name) {
  if (traceparent.empty()) return TraceFields{};  // tracestate alone means nothing
  if (std::string problem = TraceparentProblem(traceparent); !problem.empty()) {
    return std::unexpected(TraceparentError(parent_name, problem));
  }
  if (std::string problem = TracestateProblem(tracestate); !problem.empty()) {
    return std::unexpected(TracestateError(state_name, problem));
  }
  return TraceFields{std::move(traceparent), std::move(tracestate)};
}

}  // namespace

Result<TraceFields> TraceFromHeaders(const http::Request& request) {
  std::string traceparent;
  std::string tracestate;
  int parents = 0;
  for (const auto& [name, value] : request.headers) {
    if (strcasecmp(name.c_str(), "traceparent") == 0) {
      ++parents;
      traceparent = value;
    } else if (strcasecmp(name.c_str(), "tracestate") == 0 && !value.empty()) {
      // Several tracestate headers are one list (RFC 9110 field combination).
      if (!tracestate.empty()) tracestate += ',';
      tracestate += value;
    }
  }
  if (parents > 1) {
    return std::unexpected(TraceparentError("traceparent header", "it was sent more than once"));
  }
  return Checked(std::move(traceparent), std::move(tracestate), "traceparent header",
                 "tracestate header");
}

Result<TraceFields> TraceForItem(const boost::json::object& item, std::string_view prefix,
                                 const TraceFields& from_headers) {
  auto traceparent = OptionalString(item, "traceparent");
  if (!traceparent) {
    return Fail(Errc::kInvalidArgument, std::string(prefix) + traceparent.error().message);
  }
  auto tracestate = OptionalString(item, "tracestate");
  if (!tracestate) {
    return Fail(Errc::kInvalidArgument, std::string(prefix) + tracestate.error().message);
  }
  if (!*traceparent) {
    if (*tracestate) {
      return Fail(Errc::kInvalidArgument, FieldName(prefix, "tracestate") + " needs " +
                                              FieldName(prefix, "traceparent") +
                                              " in the same task object");
    }
    return from_headers;
  }
  if ((*traceparent)->empty()) {
    return std::unexpected(
        TraceparentError(FieldName(prefix, "traceparent"), "it must not be empty"));
  }
  return Checked(std::move(**traceparent), tracestate->value_or(""),
                 FieldName(prefix, "traceparent"), FieldName(prefix, "tracestate"));
}

}  // namespace delayq::api
