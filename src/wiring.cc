#include "wiring.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "common/defaults.h"
#include "delivery/callback_spec.h"

namespace delayq::wiring {

namespace {

// How long librdkafka may keep retrying one message: sinks.kafka.properties'
// message.timeout.ms (or delivery.timeout.ms, its alias) when given, else callbacks.timeout,
// the time any pushed delivery may take.
int64_t KafkaMessageTimeoutMs(const config::Config& cfg) {
  int64_t ms = cfg.callback_timeout_ms;
  for (const char* name : {"message.timeout.ms", "delivery.timeout.ms"}) {
    auto it = cfg.kafka_properties.find(name);
    if (it == cfg.kafka_properties.end()) continue;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec == std::errc() && v > 0) ms = v;
  }
  return ms;
}

}  // namespace

store::StoreConfig ToStoreConfig(const config::Config& cfg) {
  store::StoreConfig out;
  out.backend = cfg.store;
  out.data_dir = cfg.data_dir;
  out.durability =
      cfg.durability == "buffered" ? store::Durability::kBuffered : store::Durability::kFsync;
  out.near_window_ms = cfg.near_window_ms;
  out.near_window_max_tasks = static_cast<size_t>(cfg.near_window_max_tasks);
  out.min_free_disk_bytes = cfg.min_free_disk_bytes;
  out.redis_url = cfg.redis_url;
  out.redis_poll_ms = cfg.redis_poll_ms;
  out.redis_connect_timeout_ms = cfg.redis_connect_timeout_ms;
  out.redis_command_timeout_ms = cfg.redis_command_timeout_ms;
  out.redis_sentinels = cfg.redis_sentinels;
  out.redis_sentinel_master = cfg.redis_sentinel_master;
  out.redis_sentinel_user = cfg.redis_sentinel_user;
  out.redis_sentinel_password = cfg.redis_sentinel_password;
  out.redis_wait_replicas = cfg.redis_wait_replicas;
  out.redis_wait_timeout_ms = cfg.redis_wait_timeout_ms;
  return out;
}

engine::EngineConfig ToEngineConfig(const config::Config& cfg, uint32_t node_id) {
  engine::EngineConfig out;
  out.node_id = node_id;
  out.retention_ms = cfg.retention_ms;
  out.purge_interval_ms = cfg.purge_interval_ms;
  out.max_queued = static_cast<size_t>(cfg.max_queued);
  out.default_max_attempts = static_cast<uint32_t>(cfg.max_attempts);
  out.metrics_max_topics = static_cast<size_t>(cfg.metrics_max_topics);
  out.retry = RetryPolicy{cfg.retry_initial_ms, cfg.retry_max_ms, cfg.retry_multiplier};
  // A delivering task is due again if no answer was recorded within the longest allowed
  // callback plus a margin (a crash while callbacks were in flight).
  // A Kafka message is retried inside librdkafka for up to its message timeout; its task must
  // not be handed out again meanwhile.
  int64_t longest = cfg.callback_timeout_ms;
  if (!cfg.kafka_brokers.empty()) longest = std::max(longest, KafkaMessageTimeoutMs(cfg));
  out.callback_lease_ms = longest + defaults::kDeliveryLeaseMarginMs;
  out.max_callbacks_in_flight = static_cast<size_t>(cfg.callback_max_in_flight);
  out.default_topic_limits.max_in_flight =
      static_cast<size_t>(cfg.callback_max_in_flight_per_topic);
  // Other instances sharing a Redis store make and move schedules too: look as often as for
  // their tasks.
  if (cfg.store == "redis") out.schedule_poll_ms = cfg.redis_poll_ms;
  return out;
}

api::ApiConfig ToApiConfig(const config::Config& cfg) {
  api::ApiConfig out;
  out.max_payload_bytes = cfg.max_payload_bytes;
  out.max_delay_ms = cfg.max_delay_ms;
  out.access_log = cfg.access_log;
  return out;
}

http::ServerConfig ToServerConfig(const config::Config& cfg) {
  http::ServerConfig out;
  out.listen = cfg.listen;
  out.io_threads = static_cast<int>(cfg.io_threads);
  out.max_body_bytes = cfg.max_body_bytes;
  out.max_header_bytes = cfg.max_header_bytes;
  out.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  out.max_connections = static_cast<size_t>(cfg.max_connections);
  return out;
}

std::vector<api::TokenGrant> ToTokenGrants(const config::Config& cfg) {
  std::vector<api::TokenGrant> grants;
  for (const auto& rule : cfg.auth_tokens) {
    grants.push_back(
        {rule.token, api::Principal{rule.admin, rule.topics, rule.publish, rule.consume}});
  }
  return grants;
}

delivery::SinkAvailability ToSinkAvailability(const config::Config& cfg) {
  delivery::SinkAvailability out;
  out.kafka = !cfg.kafka_brokers.empty();
  out.redis_stream = !cfg.redis_stream_url.empty();
  out.kafka_default_topic = cfg.kafka_default_topic;
  return out;
}

delivery::KafkaSinkConfig ToKafkaSinkConfig(const config::Config& cfg) {
  delivery::KafkaSinkConfig out;
  for (const auto& broker : cfg.kafka_brokers) {
    out.brokers += (out.brokers.empty() ? "" : ",") + broker;
  }
  out.properties = cfg.kafka_properties;
  out.message_timeout_ms = KafkaMessageTimeoutMs(cfg);
  return out;
}

delivery::RedisStreamSinkConfig ToRedisStreamSinkConfig(const config::Config& cfg) {
  delivery::RedisStreamSinkConfig out;
  out.url = cfg.redis_stream_url;
  out.maxlen = cfg.redis_stream_maxlen;
  out.connect_timeout_ms = static_cast<int>(cfg.redis_connect_timeout_ms);
  out.command_timeout_ms = static_cast<int>(cfg.redis_command_timeout_ms);
  return out;
}

Result<TopicTables> BuildTopics(const std::map<std::string, config::Config::Topic>& topics,
                                const delivery::Registry& registry,
                                const engine::EngineConfig::TopicLimits& base,
                                const delivery::SinkAvailability& sinks) {
  TopicTables tables;
  for (const auto& [name, topic] : topics) {
    engine::EngineConfig::TopicLimits topic_limits = base;
    if (topic.max_in_flight != 0)
      topic_limits.max_in_flight = static_cast<size_t>(topic.max_in_flight);
    topic_limits.rate_limit = topic.rate_limit;
    tables.limits[name] = topic_limits;
    api::TopicDefaults defaults;
    defaults.max_attempts = static_cast<uint32_t>(topic.max_attempts);
    if (!topic.callback_json.empty()) {
      std::string field = "topics." + name + ".callback";
      auto spec = delivery::ParseCallbackObject(topic.callback_json, field);
      if (!spec) return std::unexpected(spec.error());
      if (auto ok = registry.Check(*spec, field); !ok) return std::unexpected(ok.error());
      defaults.callback_json = delivery::EncodeCallbackSpec(*spec);
    }
    if (!topic.sink_json.empty()) {
      auto spec = delivery::ParseSinkObject(topic.sink_json, "topics." + name + ".sink", sinks);
      if (!spec) return std::unexpected(spec.error());
      defaults.sink_json = delivery::EncodeSinkSpec(*spec);
    }
    tables.defaults[name] = std::move(defaults);
  }
  return tables;
}

}  // namespace delayq::wiring
