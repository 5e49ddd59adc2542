#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace delayq::api {

// Limits the API enforces on every add (configurable: docs/CONFIG.md).
struct ApiLimits {
  size_t max_payload_bytes = 1 << 20;
  int64_t max_delay_ms = 2LL * 366 * 24 * 3600 * 1000;  // how far ahead a task may be due
  // v1 API bounds (SPEC.md §3).
  static constexpr size_t kMaxBatch = 1000;
  static constexpr size_t kMaxPull = 1000;
  static constexpr int64_t kMaxWaitMs = 30'000;
  static constexpr int64_t kDefaultLeaseMs = 30'000;
  static constexpr int64_t kMinLeaseMs = 100;
  static constexpr int64_t kMaxLeaseMs = 12LL * 3600 * 1000;
  static constexpr int64_t kMaxAttempts = 1000;
  static constexpr size_t kMaxDedupKeyBytes = 256;
  static constexpr size_t kMaxDeadPage = 1000;
};

// Topic names: 1-128 characters of [A-Za-z0-9._:-]; `field` names it in the message.
Result<void> CheckTopic(std::string_view topic, std::string_view field = "topic");

// The payload (seed: content) must fit max_payload_bytes.
Result<void> CheckPayloadSize(size_t bytes, const ApiLimits& limits, std::string_view field);

// A due time in unix milliseconds: not negative, at most max_delay_ms ahead of now.
// A time in the past is accepted (due at once).
Result<int64_t> CheckDueAtMs(int64_t due_at_ms, int64_t now_ms, const ApiLimits& limits,
                             std::string_view field);

}  // namespace delayq::api
