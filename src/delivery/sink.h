#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/sink_spec.h"
#include "metrics/latency_histogram.h"
#include "queue/task.h"

namespace delayq::delivery {

struct SinkOutcome {
  std::string error;  // empty: the message is stored (Kafka: acknowledged by all in-sync replicas)
  bool ok() const { return error.empty(); }
};

// A place due tasks are produced to (one file per sink: kafka_sink.cc, redis_stream_sink.cc).
// Thread-safe: Send is called from the store worker thread, Problem from request threads.
class Sink {
 public:
  virtual ~Sink() = default;
  // Produces one message for `task` to `spec.destination`. `done` runs exactly once, on any
  // thread, and must not block; success means the message is stored, so that the task can
  // be done. Never blocks on the network.
  virtual void Send(const Task& task, const SinkSpec& spec,
                    std::function<void(SinkOutcome)> done) = 0;
  // Empty while the sink can reach its servers; otherwise why not ("all brokers down: ...").
  virtual std::string Problem() const = 0;
  // Waits up to `timeout_ms` for messages in flight to be reported (shutdown).
  virtual void Flush(int64_t timeout_ms) = 0;
};

// The message headers (Kafka) or stream fields (Redis) every sink adds, so that a consumer
// can tell deliveries of one task apart from another's and de-duplicate (at-least-once);
// traceparent and tracestate too when the task has them, for the consumer's trace.
std::vector<std::pair<std::string, std::string>> SinkHeaders(const Task& task);

// One sink's counters, for /metrics and the dashboard. Any thread.
struct SinkMetrics {
  std::atomic<uint64_t> produced{0};  // messages stored
  std::atomic<uint64_t> failed{0};    // sends that failed (the task goes to its retry policy)
  std::atomic<int64_t> in_flight{0};  // sent, outcome not known yet
  metrics::LatencyHistogram latency;  // from Send to its outcome
  SinkMetrics();
};

// The sinks a server has, by kind; a null sink is not configured. Owns nothing.
class Sinks {
 public:
  Sinks() = default;
  Sinks(Sink* kafka, Sink* redis_stream) : kafka_(kafka), redis_stream_(redis_stream) {}

  Sink* Find(SinkKind kind) const { return kind == SinkKind::kKafka ? kafka_ : redis_stream_; }
  SinkMetrics& metrics(SinkKind kind) const {
    return kind == SinkKind::kKafka ? kafka_metrics_ : redis_stream_metrics_;
  }
  bool empty() const { return kafka_ == nullptr && redis_stream_ == nullptr; }

  // Sends through the sink of `spec.kind`, counted in its metrics.
  void Send(const Task& task, const SinkSpec& spec, std::function<void(SinkOutcome)> done) const;

 private:
  Sink* kafka_ = nullptr;
  Sink* redis_stream_ = nullptr;
  mutable SinkMetrics kafka_metrics_;
  mutable SinkMetrics redis_stream_metrics_;
};

}  // namespace delayq::delivery
