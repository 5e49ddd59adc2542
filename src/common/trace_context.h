#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and
// `tracestate` a client sends with an add, checked before they are stored with the task and
// sent on with its deliveries. delayq only propagates them; it starts no spans of its own.

#include <string>
#include <string_view>

namespace delayq {

// version 00 only: "00-" 32 hex trace-id "-" 16 hex parent-id "-" 2 hex flags, lower case.
inline constexpr size_t kTraceparentLength = 55;
// The specification asks every participant to propagate at least 512 characters; delayq
// keeps exactly that much at most, so a task's record stays small.
inline constexpr size_t kMaxTracestateLength = 512;
inline constexpr size_t kMaxTracestateMembers = 32;

// The form a traceparent must have, for messages.
inline constexpr std::string_view kTraceparentForm =
    "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>, lower case";

// Empty when `value` is a valid version-00 traceparent; otherwise what is wrong with it,
// worded for the client ("its trace-id must not be all zeros").
std::string TraceparentProblem(std::string_view value);
// Empty when `value` is a tracestate delayq keeps: at most kMaxTracestateLength characters,
// at most kMaxTracestateMembers comma-separated key=value members of the W3C syntax.
std::string TracestateProblem(std::string_view value);

// The 32 hex digits of a stored (valid) traceparent's trace-id; "" when there is none.
std::string_view TraceId(std::string_view traceparent);

// " trace_id=<hex>" for a log line about a task, or "" when the task has no trace context.
std::string TraceLogField(std::string_view traceparent);

}  // namespace delayq
