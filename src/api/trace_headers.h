#pragma once

// The trace context of an add: the W3C traceparent/tracestate request headers (every add
// route), which a v1 task object's own "traceparent"/"tracestate" fields replace for that
// task. Checked here so that an invalid value is refused before anything is stored.

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/handler.h"

namespace delayq::api {

struct TraceFields {
  std::string traceparent;  // "" when the add carried none
  std::string tracestate;   // kept only with a traceparent
};

// From the request's headers. kInvalidArgument naming the header and the expected form when
// traceparent is malformed or sent twice, or tracestate is malformed or too long. A tracestate
// without a traceparent is dropped, as the W3C rules ask.
Result<TraceFields> TraceFromHeaders(const http::Request& request);

// The trace context of one v1 task object: its "traceparent" (and "tracestate") fields when
// it has them, else `from_headers`. `prefix` names the item in messages ("tasks[3].").
Result<TraceFields> TraceForItem(const boost::json::object& item, std::string_view prefix,
                                 const TraceFields& from_headers);

}  // namespace delayq::api
