#include "delivery/sink_spec.h"

#include <boost/json.hpp>

namespace delayq::delivery {

namespace json = boost::json;

namespace {

// Kafka refuses longer topic names (its log directories are named after them).
constexpr size_t kMaxKafkaTopic = 249;
// A stream key or a message key past this is a mistake, not a name.
constexpr size_t kMaxStreamKey = 1024;
constexpr size_t kMaxMessageKey = 1024;

Result<std::string> StringMember(const json::object& object, std::string_view key,
                                 const std::string& name, bool required) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) {
    if (required)
      return Fail(Errc::kInvalidArgument, name + "." + std::string(key) + " is required");
    return std::string();
  }
  if (!v->is_string()) {
    return Fail(Errc::kInvalidArgument, name + "." + std::string(key) + " must be a string");
  }
  return std::string(v->get_string());
}

Result<void> OnlyFields(const json::object& object, const std::string& name,
                        std::initializer_list<std::string_view> known, std::string_view list) {
  for (const auto& item : object) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || item.key() == k;
    if (!ok) {
      return Fail(Errc::kInvalidArgument, name + " has an unknown field '" +
                                              std::string(item.key()).substr(0, 64) + "' (" +
                                              std::string(list) + ")");
    }
  }
  return {};
}

}  // namespace

std::string_view SinkKindName(SinkKind kind) {
  return kind == SinkKind::kKafka ? "kafka" : "redis_stream";
}

Result<void> CheckKafkaTopicName(std::string_view topic, std::string_view field) {
  std::string name(field);
  if (topic.empty() || topic.size() > kMaxKafkaTopic) {
    return Fail(Errc::kInvalidArgument, name + " must be 1 to 249 characters");
  }
  if (topic == "." || topic == "..") {
    return Fail(Errc::kInvalidArgument, name + " cannot be '.' or '..' (Kafka refuses them)");
  }
  for (char c : topic) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Fail(Errc::kInvalidArgument,
                  name + " '" + std::string(topic.substr(0, 64)) +
                      "' is not a Kafka topic name (only A-Z, a-z, 0-9, '.', '_' and '-')");
    }
  }
  return {};
}

std::string EncodeSinkSpec(const SinkSpec& spec) {
  json::object inner;
  if (spec.kind == SinkKind::kKafka) {
    inner["topic"] = spec.destination;
    if (!spec.key.empty()) inner["key"] = spec.key;
  } else {
    inner["stream"] = spec.destination;
  }
  json::object sink;
  sink[SinkKindName(spec.kind)] = std::move(inner);
  json::object out;
  out["sink"] = std::move(sink);
  return json::serialize(out);
}

bool IsSinkSpec(std::string_view stored) { return stored.starts_with("{\"sink\":"); }

Result<SinkSpec> DecodeSinkSpec(std::string_view stored) {
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(stored.data(), stored.size()), ec);
  if (ec || !value.is_object() || !value.get_object().contains("sink")) {
    return Fail(Errc::kInvalidArgument, "stored sink spec is not {\"sink\": {...}}");
  }
  SinkAvailability all{true, true, ""};
  return ParseSinkObject(json::serialize(value.get_object().at("sink")), "sink", all);
}

Result<SinkSpec> ParseSinkObject(std::string_view text, std::string_view field,
                                 const SinkAvailability& available) {
  std::string name(field);
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !value.is_object() || value.get_object().size() != 1) {
    return Fail(Errc::kInvalidArgument,
                name + " must be an object with one field: kafka or redis_stream");
  }
  const auto& [kind_name, body] = *value.get_object().begin();
  SinkSpec spec;
  if (kind_name == "kafka") {
    spec.kind = SinkKind::kKafka;
  } else if (kind_name == "redis_stream") {
    spec.kind = SinkKind::kRedisStream;
  } else {
    return Fail(Errc::kInvalidArgument, name + " names an unknown sink '" +
                                            std::string(kind_name).substr(0, 64) +
                                            "' (kafka or redis_stream)");
  }
  std::string inner = name + "." + std::string(kind_name);
  if (spec.kind == SinkKind::kKafka && !available.kafka) {
    return Fail(Errc::kInvalidArgument,
                inner + ": the Kafka sink is not configured (sinks.kafka.brokers)");
  }
  if (spec.kind == SinkKind::kRedisStream && !available.redis_stream) {
    return Fail(Errc::kInvalidArgument,
                inner + ": the Redis Streams sink is not configured (sinks.redis_stream.url)");
  }
  if (!body.is_object()) return Fail(Errc::kInvalidArgument, inner + " must be an object");
  const json::object& object = body.get_object();
  if (spec.kind == SinkKind::kKafka) {
    if (auto ok = OnlyFields(object, inner, {"topic", "key"}, "topic, key"); !ok) {
      return std::unexpected(ok.error());
    }
    auto topic = StringMember(object, "topic", inner, false);
    if (!topic) return std::unexpected(topic.error());
    const json::value* given = object.if_contains("topic");
    spec.destination =
        given == nullptr || given->is_null() ? available.kafka_default_topic : std::move(*topic);
    if (auto ok = CheckKafkaTopicName(spec.destination, inner + ".topic"); !ok) {
      return std::unexpected(ok.error());
    }
    auto key = StringMember(object, "key", inner, false);
    if (!key) return std::unexpected(key.error());
    if (object.contains("key") && (key->empty() || key->size() > kMaxMessageKey)) {
      return Fail(Errc::kInvalidArgument, inner + ".key must be 1 to 1024 bytes");
    }
    spec.key = std::move(*key);
  } else {
    if (auto ok = OnlyFields(object, inner, {"stream"}, "stream"); !ok) {
      return std::unexpected(ok.error());
    }
    auto stream = StringMember(object, "stream", inner, true);
    if (!stream) return std::unexpected(stream.error());
    if (stream->empty() || stream->size() > kMaxStreamKey) {
      return Fail(Errc::kInvalidArgument, inner + ".stream must be 1 to 1024 bytes");
    }
    spec.destination = std::move(*stream);
  }
  return spec;
}

}  // namespace delayq::delivery
