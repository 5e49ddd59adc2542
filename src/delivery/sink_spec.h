#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace delayq::delivery {

enum class SinkKind { kKafka, kRedisStream };

// "kafka", "redis_stream": the names of the v1 `sink` object's one field and of the
// `sinks.*` configuration sections.
std::string_view SinkKindName(SinkKind kind);

// Where a due task is produced instead of being pulled or called back. Stored with a
// callback-kind task in Task::callback (the engine delivers both alike), in the shape of the
// v1 field wrapped in "sink": {"sink":{"kafka":{"topic":"t","key":"k"}}}.
struct SinkSpec {
  SinkKind kind = SinkKind::kKafka;
  std::string destination;  // Kafka topic, or Redis stream key
  std::string key;          // Kafka message key; "" the task id
  bool operator==(const SinkSpec&) const = default;
};

std::string EncodeSinkSpec(const SinkSpec& spec);
// True when a stored Task::callback is a sink spec rather than an HTTP callback spec.
bool IsSinkSpec(std::string_view stored);
Result<SinkSpec> DecodeSinkSpec(std::string_view stored);

// Which sinks this server has configured, for checking a `sink` given on an add.
struct SinkAvailability {
  bool kafka = false;
  bool redis_stream = false;
  std::string kafka_default_topic = "delay_base_push";
};

// Parses and checks the v1 `sink` object (JSON text): exactly one of
// {"kafka": {"topic", "key"}} and {"redis_stream": {"stream"}}, of a configured sink, with
// a name Kafka (or Redis) accepts. A Kafka topic left out is the configured default. Messages
// start with `field` ("sink", "tasks[2].sink", "topics.orders.sink").
Result<SinkSpec> ParseSinkObject(std::string_view json, std::string_view field,
                                 const SinkAvailability& available);

// Kafka's own rule for topic names: 1-249 characters of [A-Za-z0-9._-], not "." or "..".
Result<void> CheckKafkaTopicName(std::string_view topic, std::string_view field);

}  // namespace delayq::delivery
