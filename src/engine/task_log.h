#pragma once

// The engine's log lines about one task (logfmt). Each carries task= and topic=, and
// trace_id= when the task was added with a traceparent, so that an operator can go from a
// trace to delayq's account of that task (grep trace_id=<32 hex>).

#include <string_view>

#include "engine/callback_sink.h"
#include "queue/task.h"

namespace delayq::engine {

// A callback or sink delivery failed (info: retried per the retry policy unless it was the
// last attempt, which LogDead reports).
void LogDeliveryFailed(const Task& task, const CallbackOutcome& outcome);

// The task ran out of attempts (warn). `recorded` is the task as the store left it;
// `traceparent` the trace context of the delivery that failed.
void LogDead(const Task& recorded, std::string_view traceparent);

}  // namespace delayq::engine
