#pragma once

// The translation of the one flat configuration (config::Config) into the configuration of
// each layer, for src/main.cc: each setting is copied in one place, with the conversions it
// needs. Only main.cc and this file know every layer's types.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/validate.h"
#include "common/result.h"
#include "config/config.h"
#include "delivery/kafka_sink.h"
#include "delivery/redis_stream_sink.h"
#include "delivery/registry.h"
#include "delivery/sink_spec.h"
#include "engine/engine.h"
#include "http/server.h"
#include "store/store.h"

namespace delayq::wiring {

store::StoreConfig ToStoreConfig(const config::Config& cfg);
// `node_id`: the number the store leased (or the configured one).
engine::EngineConfig ToEngineConfig(const config::Config& cfg, uint32_t node_id);
// The registry, authenticator and topic table are left null: the caller owns them.
api::ApiConfig ToApiConfig(const config::Config& cfg);
http::ServerConfig ToServerConfig(const config::Config& cfg);
std::vector<api::TokenGrant> ToTokenGrants(const config::Config& cfg);

// The sinks: configured when sinks.kafka.brokers / sinks.redis_stream.url are set.
delivery::SinkAvailability ToSinkAvailability(const config::Config& cfg);
delivery::KafkaSinkConfig ToKafkaSinkConfig(const config::Config& cfg);
delivery::RedisStreamSinkConfig ToRedisStreamSinkConfig(const config::Config& cfg);

// Per-topic settings (file `topics` or the config centre) as the API and the engine use
// them. Default callbacks are checked against `registry` like a callback given on an add,
// default sinks against the configured sinks.
struct TopicTables {
  api::TopicDefaultsTable::Map defaults;
  std::map<std::string, engine::EngineConfig::TopicLimits> limits;
};
Result<TopicTables> BuildTopics(const std::map<std::string, config::Config::Topic>& topics,
                                const delivery::Registry& registry,
                                const engine::EngineConfig::TopicLimits& base,
                                const delivery::SinkAvailability& sinks);

}  // namespace delayq::wiring
