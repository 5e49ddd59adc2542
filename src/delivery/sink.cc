#include "delivery/sink.h"

#include <chrono>
#include <memory>

namespace delayq::delivery {

std::vector<std::pair<std::string, std::string>> SinkHeaders(const Task& task) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"delayq-task-id", std::to_string(task.id)},
      {"delayq-topic", task.topic},
      {"delayq-due-at-ms", std::to_string(task.due_at_ms)},
      {"delayq-attempt", std::to_string(task.attempts)}};
  if (!task.traceparent.empty()) {
    headers.emplace_back("traceparent", task.traceparent);
    if (!task.tracestate.empty()) headers.emplace_back("tracestate", task.tracestate);
  }
  return headers;
}

// 100 us .. 60 s, as the callback latency.
SinkMetrics::SinkMetrics()
    : latency({100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000,
               1'000'000, 5'000'000, 60'000'000}) {}

void Sinks::Send(const Task& task, const SinkSpec& spec,
                 std::function<void(SinkOutcome)> done) const {
  Sink* sink = Find(spec.kind);
  SinkMetrics& m = metrics(spec.kind);
  if (sink == nullptr) {
    m.failed.fetch_add(1, std::memory_order_relaxed);
    // A task added while the sink was configured, read by a server without it.
    return done(SinkOutcome{"the " + std::string(SinkKindName(spec.kind)) +
                            " sink is not configured on this server"});
  }
  m.in_flight.fetch_add(1, std::memory_order_relaxed);
  auto started = std::chrono::steady_clock::now();
  sink->Send(task, spec, [&m, started, done = std::move(done)](SinkOutcome outcome) {
    m.latency.ObserveMicros(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count());
    m.in_flight.fetch_sub(1, std::memory_order_relaxed);
    (outcome.ok() ? m.produced : m.failed).fetch_add(1, std::memory_order_relaxed);
    done(std::move(outcome));
  });
}

}  // namespace delayq::delivery
