#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/topic_name.h"  // IsValidTopic, kMaxTopicLength

namespace delayq {

using TaskId = uint64_t;

// Persisted as one byte: append new values, never renumber (store/record_codec.h).
enum class TaskState : uint8_t {
  kScheduled = 0,   // waiting for due_at_ms; "due" once due_at_ms <= now (derived, not stored)
  kLeased = 1,      // handed to a pull consumer under a lease (v1 API)
  kDelivering = 2,  // a callback is in flight
  kDone = 3,
  kDead = 4,
  kCancelled = 5,
};

enum class DeliveryKind : uint8_t {
  kPull = 0,
  kCallback = 1,
};

// One task as the engine and the stores see it. Times are unix milliseconds (wall clock).
struct Task {
  TaskId id = 0;
  std::string topic;
  int64_t due_at_ms = 0;
  int64_t created_at_ms = 0;
  std::string payload;  // opaque bytes, stored and returned exactly as given
  DeliveryKind kind = DeliveryKind::kPull;
  TaskState state = TaskState::kScheduled;
  uint32_t attempts = 0;         // deliveries started so far
  uint32_t max_attempts = 0;     // deliveries allowed before the task is dead (0: no limit)
  int64_t finished_at_ms = 0;    // set when the task reaches done/dead/cancelled
  uint64_t lease_token = 0;      // while kLeased: the secret a consumer acks or nacks with
  int64_t lease_until_ms = 0;    // while kLeased: when the lease expires
  bool payload_is_json = false;  // v1 payload given as a JSON value, not a string
  std::string last_error;
  std::string dedup_key;
  std::string callback;  // callback target spec (JSON) for kCallback tasks
  // W3C trace context given at add (common/trace_context.h), sent on with every delivery;
  // empty when none was given.
  std::string traceparent;
  std::string tracestate;
};

// done, dead and cancelled are final; such records are purged after the retention period.
bool IsFinished(TaskState state);

std::string_view StateName(TaskState state);

}  // namespace delayq
