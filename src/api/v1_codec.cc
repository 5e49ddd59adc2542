#include "api/v1_codec.h"

#include <charconv>
#include <cstdio>

#include "api/json_fields.h"
#include "api/time_format.h"
#include "api/v1_api.h"
#include "api/v1_schedules.h"
#include "delivery/callback_spec.h"
#include "delivery/registry.h"
#include "delivery/sink_spec.h"

namespace delayq::api {

namespace json = boost::json;

namespace {}  // namespace

std::string_view VisibleState(const Task& task, int64_t now_ms) {
  if (task.state == TaskState::kScheduled && task.due_at_ms <= now_ms) return "due";
  return StateName(task.state);
}

http::Response JsonResponse(int status, const json::value& body) {
  return http::Response{status, "application/json", json::serialize(body)};
}

json::value PayloadValue(const Task& task) {
  if (task.payload_is_json) {
    boost::system::error_code ec;
    json::value value = json::parse(task.payload, ec);
    if (!ec) return value;
  }
  return json::string(task.payload);
}

std::string LeaseString(uint64_t token) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(token));
  return buf;
}

void AddTraceFields(json::object& out, const Task& task) {
  if (!task.traceparent.empty()) out["traceparent"] = task.traceparent;
  if (!task.tracestate.empty()) out["tracestate"] = task.tracestate;
}

json::object TaskJson(const Task& task, int64_t now_ms) {
  json::object out;
  out["id"] = std::to_string(task.id);
  out["topic"] = task.topic;
  out["state"] = VisibleState(task, now_ms);
  bool sink = task.kind == DeliveryKind::kCallback && delivery::IsSinkSpec(task.callback);
  out["kind"] = task.kind == DeliveryKind::kPull ? "pull" : sink ? "sink" : "callback";
  if (sink) {
    // The stored spec is {"sink": <the v1 field, with the Kafka topic filled in>}.
    boost::system::error_code ec;
    json::value spec = json::parse(task.callback, ec);
    if (!ec && spec.is_object() && spec.get_object().contains("sink")) {
      out["sink"] = spec.get_object().at("sink");
    }
  }
  out["due_at_ms"] = task.due_at_ms;
  out["created_at_ms"] = task.created_at_ms;
  out["attempts"] = task.attempts;
  out["max_attempts"] = task.max_attempts;
  out["last_error"] = task.last_error.empty() ? json::value(nullptr) : json::value(task.last_error);
  if (task.finished_at_ms != 0) out["finished_at_ms"] = task.finished_at_ms;
  if (task.state == TaskState::kLeased) out["lease_until_ms"] = task.lease_until_ms;
  if (!task.dedup_key.empty()) out["dedup_key"] = task.dedup_key;
  AddOccurrenceFields(out, task.dedup_key);
  AddTraceFields(out, task);
  out["payload"] = PayloadValue(task);
  return out;
}

Result<uint64_t> DecodeLease(const json::object& body, std::string_view prefix) {
  auto lease = RequireString(body, "lease");
  if (!lease) return Fail(Errc::kInvalidArgument, std::string(prefix) + lease.error().message);
  uint64_t token = 0;
  auto [end, ec] = std::from_chars(lease->data(), lease->data() + lease->size(), token, 16);
  if (ec != std::errc() || end != lease->data() + lease->size() || lease->empty() || token == 0) {
    return Fail(Errc::kInvalidArgument,
                std::string(prefix) + "lease must be the lease string returned by pull");
  }
  return token;
}

Result<std::optional<int64_t>> BoundedInteger(const json::object& body, std::string_view prefix,
                                              std::string_view field, int64_t min, int64_t max) {
  auto value = OptionalInteger(body, field);
  std::string name = FieldName(prefix, field);
  if (!value)
    return Fail(Errc::kInvalidArgument, prefix.empty()
                                            ? value.error().message
                                            : std::string(prefix) + value.error().message);
  if (*value && (**value < min || **value > max)) {
    return Fail(Errc::kInvalidArgument,
                name + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return *value;
}

Result<json::object> OptionalBody(std::string_view body, std::string_view what) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  return ParseBodyObject(body, what);
}

std::string_view QueryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

Result<int64_t> DecodeDueTime(const json::object& body, const ApiConfig& api_config, int64_t now_ms,
                              std::string_view prefix) {
  int given = body.contains("delay_ms") + body.contains("at_ms") + body.contains("at");
  if (given > 1) {
    return Fail(Errc::kInvalidArgument, "give only one of " + FieldName(prefix, "delay_ms") + ", " +
                                            FieldName(prefix, "at_ms") + ", " +
                                            FieldName(prefix, "at"));
  }
  int64_t due = now_ms;
  std::string field;
  if (body.contains("delay_ms")) {
    field = FieldName(prefix, "delay_ms");
    auto delay = RequireInteger(body, "delay_ms");
    if (!delay) return Fail(Errc::kInvalidArgument, std::string(prefix) + delay.error().message);
    if (*delay < 0 || *delay > api_config.max_delay_ms) {
      return Fail(Errc::kInvalidArgument, field + " must be between 0 and " +
                                              std::to_string(api_config.max_delay_ms) +
                                              " (max_delay)");
    }
    due = now_ms + *delay;
  } else if (body.contains("at_ms")) {
    field = FieldName(prefix, "at_ms");
    auto at = RequireInteger(body, "at_ms");
    if (!at) return Fail(Errc::kInvalidArgument, std::string(prefix) + at.error().message);
    due = *at;
  } else if (body.contains("at")) {
    field = FieldName(prefix, "at");
    auto text = RequireString(body, "at");
    if (!text) return Fail(Errc::kInvalidArgument, std::string(prefix) + text.error().message);
    auto at = ParseRfc3339Ms(*text);
    if (!at) return Fail(Errc::kInvalidArgument, std::string(prefix) + at.error().message);
    due = *at;
  } else {
    return due;
  }
  return CheckDueAtMs(due, now_ms, api_config, field);
}

namespace {

// How the task is delivered: the body's sink or callback, else the topic's default; none of
// them makes a pull task.
Result<void> DecodeDelivery(const json::object& body, const ApiConfig& api_config,
                            std::string_view prefix, std::optional<TopicDefaults> defaults,
                            engine::NewTask& task) {
  const json::value* callback = body.if_contains("callback");
  const json::value* sink = body.if_contains("sink");
  std::string field = FieldName(prefix, "callback");
  if (sink != nullptr && !sink->is_null()) {
    std::string sink_field = FieldName(prefix, "sink");
    if (callback != nullptr && !callback->is_null()) {
      return Fail(Errc::kInvalidArgument,
                  sink_field + ": a task has a callback or a sink, not both");
    }
    auto spec =
        delivery::ParseSinkObject(json::serialize(*sink), sink_field, api_config.sink_availability);
    if (!spec) return std::unexpected(spec.error());
    task.kind = DeliveryKind::kCallback;  // pushed by the engine like a callback
    task.callback = delivery::EncodeSinkSpec(*spec);
  } else if (callback != nullptr && !callback->is_null()) {
    if (api_config.registry == nullptr) {
      return Fail(Errc::kInvalidArgument, field + ": callback delivery is disabled");
    }
    auto spec = delivery::ParseCallbackObject(json::serialize(*callback), field);
    if (!spec) return std::unexpected(spec.error());
    if (auto ok = api_config.registry->Check(
            *spec, spec->service.empty() ? field + ".url" : field + ".service");
        !ok) {
      return std::unexpected(ok.error());
    }
    task.kind = DeliveryKind::kCallback;
    task.callback = delivery::EncodeCallbackSpec(*spec);
  } else if (defaults && !defaults->sink_json.empty()) {
    task.kind = DeliveryKind::kCallback;  // the topic's default sink (config topics)
    task.callback = std::move(defaults->sink_json);
  } else if (defaults && !defaults->callback_json.empty()) {
    task.kind = DeliveryKind::kCallback;  // the topic's default callback (config topics)
    task.callback = std::move(defaults->callback_json);
  }
  return {};
}

}  // namespace

Result<engine::NewTask> DecodeV1Task(std::string_view topic, const json::object& body,
                                     const ApiConfig& api_config, int64_t now_ms,
                                     std::string_view prefix) {
  auto with_prefix = [&](const Error& e) {
    return Fail(e.code, prefix.empty() ? e.message : std::string(prefix) + e.message);
  };
  engine::NewTask task;
  task.topic = std::string(topic);
  const json::value* payload = body.if_contains("payload");
  if (payload == nullptr) {
    return Fail(Errc::kInvalidArgument, FieldName(prefix, "payload") + " is required");
  }
  if (payload->is_string()) {
    task.payload = std::string(payload->get_string());
  } else {
    task.payload = json::serialize(*payload);
    task.payload_is_json = true;
    // Boost.JSON turns numbers beyond double range into Infinity/NaN, which serialize to
    // text that is not JSON: refuse them rather than store a payload that cannot be read.
    boost::system::error_code reparse;
    (void)json::parse(task.payload, reparse);
    if (reparse) {
      return Fail(Errc::kInvalidArgument,
                  FieldName(prefix, "payload") + " contains a number out of range");
    }
  }
  if (auto ok = CheckPayloadSize(task.payload.size(), api_config, FieldName(prefix, "payload"));
      !ok) {
    return std::unexpected(ok.error());
  }
  auto due = DecodeDueTime(body, api_config, now_ms, prefix);
  if (!due) return std::unexpected(due.error());
  task.due_at_ms = *due;
  auto attempts = BoundedInteger(body, prefix, "max_attempts", 1, ApiConfig::kMaxAttempts);
  if (!attempts) return std::unexpected(attempts.error());
  task.max_attempts = static_cast<uint32_t>(attempts->value_or(0));
  auto dedup = OptionalString(body, "dedup_key");
  if (!dedup) return with_prefix(dedup.error());
  if (*dedup) {
    if ((*dedup)->empty() || (*dedup)->size() > ApiConfig::kMaxDedupKeyBytes) {
      return Fail(Errc::kInvalidArgument, FieldName(prefix, "dedup_key") + " must be 1 to " +
                                              std::to_string(ApiConfig::kMaxDedupKeyBytes) +
                                              " bytes");
    }
    if (auto ok = CheckUserDedupKey(**dedup, FieldName(prefix, "dedup_key")); !ok) {
      return std::unexpected(ok.error());
    }
    task.dedup_key = std::move(**dedup);
  }
  std::optional<TopicDefaults> defaults = FindTopicDefaults(api_config, task.topic);
  if (task.max_attempts == 0 && defaults) task.max_attempts = defaults->max_attempts;
  if (auto ok = DecodeDelivery(body, api_config, prefix, std::move(defaults), task); !ok) {
    return std::unexpected(ok.error());
  }
  return task;
}

}  // namespace delayq::api
