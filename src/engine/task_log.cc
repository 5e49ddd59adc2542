#include "engine/task_log.h"

#include <spdlog/spdlog.h>

#include "common/logfmt.h"
#include "common/trace_context.h"

namespace delayq::engine {

void LogDeliveryFailed(const Task& task, const CallbackOutcome& outcome) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  spdlog::info("msg=\"delivery failed\" task={} topic={} attempt={} status={} error={}{}", task.id,
               LogValue(task.topic), task.attempts, outcome.http_status, LogValue(outcome.error),
               TraceLogField(task.traceparent));
}

void LogDead(const Task& recorded, std::string_view traceparent) {
  spdlog::warn("msg=\"task dead\" task={} topic={} attempts={} last_error={}{}", recorded.id,
               LogValue(recorded.topic), recorded.attempts, LogValue(recorded.last_error),
               TraceLogField(traceparent.empty() ? recorded.traceparent : traceparent));
}

}  // namespace delayq::engine
