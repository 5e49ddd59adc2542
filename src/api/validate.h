#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/defaults.h"
#include "common/result.h"
#include "common/snapshot.h"
#include "delivery/sink_spec.h"

namespace delayq::delivery {
class Registry;
class Sinks;
}  // namespace delayq::delivery

namespace delayq::api {

class Authenticator;
struct Principal;

// Defaults a topic's configuration gives to the tasks added to it.
struct TopicDefaults {
  uint32_t max_attempts = 0;  // 0: the engine's default
  std::string callback_json;  // canonical callback spec for tasks that give none; "" none
  std::string sink_json;      // canonical sink spec (delivery/sink_spec.h) for them; "" none
};

// Per-topic defaults that can be replaced while requests read them (the config centre).
// Thread-safe: readers take an immutable snapshot.
class TopicDefaultsTable {
 public:
  using Map = std::map<std::string, TopicDefaults>;
  explicit TopicDefaultsTable(Map topics = {}) : topics_(std::make_shared<const Map>(topics)) {}
  std::optional<TopicDefaults> Find(const std::string& topic) const {
    auto snapshot = topics_.Load();
    auto it = snapshot->find(topic);
    if (it == snapshot->end()) return std::nullopt;
    return it->second;
  }
  void Replace(Map topics) { topics_.Store(std::make_shared<const Map>(std::move(topics))); }

 private:
  Snapshot<Map> topics_;
};

// What the API needs besides the engine: limits it enforces on every add (configurable:
// docs/CONFIG.md), the callback registry, per-topic defaults.
struct ApiConfig {
  // Resolves services and checks callback hosts; null refuses callback tasks.
  const delivery::Registry* registry = nullptr;
  // The configured sinks, for /readyz and /metrics; null: none.
  const delivery::Sinks* sinks = nullptr;
  // Which sinks a task's `sink` may name.
  delivery::SinkAvailability sink_availability;
  // Bearer tokens; null or without tokens: the API is open.
  const Authenticator* auth = nullptr;
  std::map<std::string, TopicDefaults> topics;
  // When set, per-topic defaults come from this table instead of `topics` (serve sets it
  // so that the config centre can change them at run time).
  const TopicDefaultsTable* live_topics = nullptr;
  size_t max_payload_bytes = defaults::kMaxPayloadBytes;
  int64_t max_delay_ms = defaults::kMaxDelayMs;  // how far ahead a task may be due
  // One info line per request (config access_log); failed answers (5xx) are logged anyway.
  bool access_log = true;
  // v1 API bounds: the largest batch and pull one request may ask for (docs/API.md).
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

// The defaults of `topic`: from live_topics when set, else from topics.
std::optional<TopicDefaults> FindTopicDefaults(const ApiConfig& api_config,
                                               const std::string& topic);

// Topic names: 1-128 characters of [A-Za-z0-9._:-]; `field` names it in the message.
Result<void> CheckTopic(std::string_view topic, std::string_view field = "topic");

// A task id in a path or a query: a positive decimal number.
Result<uint64_t> ParseTaskId(std::string_view text);

// The payload (seed: content) must fit max_payload_bytes.
Result<void> CheckPayloadSize(size_t bytes, const ApiConfig& api_config, std::string_view field);

// A due time in unix milliseconds: not negative, at most max_delay_ms ahead of now.
// A time in the past is accepted (due at once).
Result<int64_t> CheckDueAtMs(int64_t due_at_ms, int64_t now_ms, const ApiConfig& api_config,
                             std::string_view field);

}  // namespace delayq::api
