#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "queue/task.h"

namespace delayq::store {

// The stored task record, a versioned binary encoding of Task.
//
// Layout (little-endian):
//   u8 version (= kRecordVersion)
//   u64 id, i64 due_at_ms, i64 created_at_ms, i64 finished_at_ms
//   u8 kind, u8 state, u32 attempts, u32 max_attempts
//   5 × (u32 length, bytes): topic, payload, last_error, dedup_key, callback
//   version >= 2: u64 lease_token, i64 lease_until_ms, u8 payload_is_json
//   version >= 3: 2 × (u32 length, bytes): traceparent, tracestate
//
// To change it: add kRecordVersion + 1, keep decoding every older version (fill new fields
// with defaults), encode only the newest. Never reuse a version number. One exception: a
// task without trace context is still encoded as version 2 (kUntracedRecordVersion), which
// is version 3 without its last two strings, so that tracing costs nothing to tasks that do
// not use it; a new version must keep that property or drop it on purpose.
inline constexpr uint8_t kRecordVersion = 3;
inline constexpr uint8_t kUntracedRecordVersion = 2;

std::string EncodeTask(const Task& task);

// Rejects truncated or trailing bytes, unknown versions and out-of-range enums.
Result<Task> DecodeTask(std::string_view bytes);

}  // namespace delayq::store
