#include "api/v1_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "api/auth.h"
#include "api/errors.h"
#include "api/json_fields.h"
#include "api/time_format.h"
#include "api/v1_schedules.h"
#include "delivery/callback_spec.h"
#include "delivery/registry.h"
#include "delivery/sink_spec.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

// --- Encoding -------------------------------------------------------------------------------

http::Response JsonResponse(int status, const json::value& body) {
  return http::Response{status, "application/json", json::serialize(body)};
}

// An answer whose JSON `build()` makes on the I/O thread that writes it (Response::finish):
// for answers made on the store worker, which is the bottleneck when many tasks are due.
template <typename Build>
http::Response DeferredJson(int status, Build build) {
  http::Response response(status, "application/json", "");
  response.finish = [build = std::move(build)](http::Response& r) {
    r.body = json::serialize(build());
  };
  return response;
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

// The state a user sees: a scheduled task whose time has come is "due".
std::string_view VisibleState(const Task& task, int64_t now_ms) {
  if (task.state == TaskState::kScheduled && task.due_at_ms <= now_ms) return "due";
  return StateName(task.state);
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
  out["payload"] = PayloadValue(task);
  return out;
}

// --- Decoding -------------------------------------------------------------------------------

Result<TaskId> ParseTaskId(std::string_view text) {
  TaskId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || id == 0) {
    return Fail(Errc::kInvalidArgument,
                "task id in the path must be a positive decimal number, not '" +
                    std::string(text.substr(0, 64)) + "'");
  }
  return id;
}

Result<uint64_t> DecodeLease(const json::object& body) {
  auto lease = RequireString(body, "lease");
  if (!lease) return std::unexpected(lease.error());
  uint64_t token = 0;
  auto [end, ec] = std::from_chars(lease->data(), lease->data() + lease->size(), token, 16);
  if (ec != std::errc() || end != lease->data() + lease->size() || lease->empty() || token == 0) {
    return Fail(Errc::kInvalidArgument, "lease must be the lease string returned by pull");
  }
  return token;
}

// An optional integer field within [min, max].
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

// Parses an optional JSON request body: empty means {}.
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

// --- Handlers -------------------------------------------------------------------------------

void AddTask(engine::Engine& engine, const ApiConfig& api_config, std::string_view topic,
             const http::Request& request, http::Responder respond) {
  auto body = ParseBodyObject(request.body, "payload and delay_ms, at_ms or at");
  if (!body) return respond(MakeErrorResponse(body.error()));
  int64_t now = engine.NowMs();
  auto task = DecodeV1Task(topic, *body, api_config, now, "");
  if (!task) return respond(MakeErrorResponse(task.error()));
  int64_t due = task->due_at_ms;
  std::vector<engine::NewTask> tasks;
  tasks.push_back(std::move(*task));
  engine.Add(std::move(tasks), [respond = std::move(respond), &engine,
                                due](Result<std::vector<engine::AddedTask>> added) {
    if (!added) return respond(MakeErrorResponse(added.error()));
    const engine::AddedTask& first = added->front();
    json::object out;
    out["id"] = std::to_string(first.id);
    out["due_at_ms"] = due;
    if (!first.created) {
      // The task added earlier with this dedup_key: report its own due time.
      if (auto existing = engine.Get(first.id)) out["due_at_ms"] = existing->due_at_ms;
      out["duplicate"] = true;
    }
    respond(JsonResponse(first.created ? 201 : 200, out));
  });
}

void AddBatch(engine::Engine& engine, const ApiConfig& api_config, std::string_view topic,
              const http::Request& request, http::Responder respond) {
  auto body = ParseBodyObject(request.body, "tasks (an array of task objects)");
  if (!body) return respond(MakeErrorResponse(body.error()));
  const json::value* items = body->if_contains("tasks");
  if (items == nullptr)
    return respond(MakeErrorResponse({Errc::kInvalidArgument, "tasks is required"}));
  if (!items->is_array()) {
    return respond(MakeErrorResponse({Errc::kInvalidArgument, "tasks must be an array"}));
  }
  const json::array& array = items->get_array();
  if (array.empty() || array.size() > ApiConfig::kMaxBatch) {
    return respond(
        MakeErrorResponse({array.empty() ? Errc::kInvalidArgument : Errc::kTooLarge,
                           "tasks must hold 1 to " + std::to_string(ApiConfig::kMaxBatch) +
                               " tasks, not " + std::to_string(array.size())}));
  }
  int64_t now = engine.NowMs();
  std::vector<engine::NewTask> tasks;
  tasks.reserve(array.size());
  std::vector<int64_t> due;
  for (size_t i = 0; i < array.size(); ++i) {
    std::string prefix = "tasks[" + std::to_string(i) + "].";
    if (!array[i].is_object()) {
      return respond(MakeErrorResponse(
          {Errc::kInvalidArgument, "tasks[" + std::to_string(i) + "] must be an object"}));
    }
    auto task = DecodeV1Task(topic, array[i].get_object(), api_config, now, prefix);
    if (!task) return respond(MakeErrorResponse(task.error()));
    due.push_back(task->due_at_ms);
    tasks.push_back(std::move(*task));
  }
  engine.Add(std::move(tasks), [respond = std::move(respond), due = std::move(due)](
                                   Result<std::vector<engine::AddedTask>> added) {
    if (!added) return respond(MakeErrorResponse(added.error()));
    json::array ids;
    json::array due_at;
    for (size_t i = 0; i < added->size(); ++i) {
      ids.push_back(json::string(std::to_string((*added)[i].id)));
      due_at.push_back(due[i]);
    }
    json::object out;
    out["ids"] = std::move(ids);
    out["due_at_ms"] = std::move(due_at);
    respond(JsonResponse(201, out));
  });
}

// GCC 12 reports the claimed tasks' vector in the answer lambda below as maybe-uninitialized
// when it inlines the lambda (a false positive: the Result holds a value where it is read),
// depending on unrelated code in this file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void Pull(engine::Engine& engine, std::string topic, const http::Request& request,
          http::Responder respond) {
  auto body = OptionalBody(request.body, "max, wait_ms, lease_ms (all optional)");
  if (!body) return respond(MakeErrorResponse(body.error()));
  auto max = BoundedInteger(*body, "", "max", 1, ApiConfig::kMaxPull);
  if (!max) return respond(MakeErrorResponse(max.error()));
  auto wait = BoundedInteger(*body, "", "wait_ms", 0, ApiConfig::kMaxWaitMs);
  if (!wait) return respond(MakeErrorResponse(wait.error()));
  auto lease =
      BoundedInteger(*body, "", "lease_ms", ApiConfig::kMinLeaseMs, ApiConfig::kMaxLeaseMs);
  if (!lease) return respond(MakeErrorResponse(lease.error()));
  engine.Claim(std::move(topic), static_cast<size_t>(max->value_or(1)), wait->value_or(0),
               lease->value_or(ApiConfig::kDefaultLeaseMs),
               [respond = std::move(respond)](Result<std::vector<Task>> tasks) {
                 if (!tasks) return respond(MakeErrorResponse(tasks.error()));
                 // Element by element: moving the vector out of the Result makes GCC 12
                 // report its storage as maybe-uninitialized (a false positive).
                 std::vector<Task> taken;
                 taken.reserve(tasks->size());
                 for (Task& task : *tasks) taken.push_back(std::move(task));
                 respond(DeferredJson(200, [tasks = std::move(taken)] {
                   json::array out;
                   for (const Task& task : tasks) {
                     json::object item;
                     item["id"] = std::to_string(task.id);
                     item["payload"] = PayloadValue(task);
                     item["attempt"] = task.attempts;
                     item["due_at_ms"] = task.due_at_ms;
                     item["lease"] = LeaseString(task.lease_token);
                     item["lease_until_ms"] = task.lease_until_ms;
                     out.push_back(std::move(item));
                   }
                   json::object body;
                   body["tasks"] = std::move(out);
                   return body;
                 }));
               });
}
#pragma GCC diagnostic pop

engine::Engine::TaskDone AnswerWithTask(engine::Engine& engine, http::Responder respond) {
  return [&engine, respond = std::move(respond)](Result<Task> task) {
    if (!task) return respond(MakeErrorResponse(task.error()));
    respond(DeferredJson(
        200, [task = std::move(*task), now = engine.NowMs()] { return TaskJson(task, now); }));
  };
}

void TaskAction(engine::Engine& engine, const ApiConfig& api_config, TaskId id,
                std::string_view action, const http::Request& request, http::Responder respond) {
  if (action == "ack" || action == "nack") {
    auto body = ParseBodyObject(request.body, "lease");
    if (!body) return respond(MakeErrorResponse(body.error()));
    auto lease = DecodeLease(*body);
    if (!lease) return respond(MakeErrorResponse(lease.error()));
    if (action == "ack") return engine.Ack(id, *lease, AnswerWithTask(engine, std::move(respond)));
    auto delay = BoundedInteger(*body, "", "delay_ms", 0, api_config.max_delay_ms);
    if (!delay) return respond(MakeErrorResponse(delay.error()));
    return engine.Nack(id, *lease, delay->value_or(0), AnswerWithTask(engine, std::move(respond)));
  }
  if (action == "extend") {
    auto body = ParseBodyObject(request.body, "lease and lease_ms");
    if (!body) return respond(MakeErrorResponse(body.error()));
    auto lease = DecodeLease(*body);
    if (!lease) return respond(MakeErrorResponse(lease.error()));
    auto lease_ms =
        BoundedInteger(*body, "", "lease_ms", ApiConfig::kMinLeaseMs, ApiConfig::kMaxLeaseMs);
    if (!lease_ms) return respond(MakeErrorResponse(lease_ms.error()));
    return engine.Extend(id, *lease, lease_ms->value_or(ApiConfig::kDefaultLeaseMs),
                         [respond = std::move(respond)](Result<Task> task) {
                           if (!task) return respond(MakeErrorResponse(task.error()));
                           json::object out;
                           out["id"] = std::to_string(task->id);
                           out["lease"] = LeaseString(task->lease_token);
                           out["lease_until_ms"] = task->lease_until_ms;
                           out["attempt"] = task->attempts;
                           respond(JsonResponse(200, out));
                         });
  }
  if (action == "reschedule") {
    auto body = ParseBodyObject(request.body, "delay_ms, at_ms, at or now: true");
    if (!body) return respond(MakeErrorResponse(body.error()));
    int64_t now = engine.NowMs();
    auto now_flag = OptionalBool(*body, "now");
    if (!now_flag) return respond(MakeErrorResponse(now_flag.error()));
    int64_t due = now;
    bool has_time = body->contains("delay_ms") || body->contains("at_ms") || body->contains("at");
    if (now_flag->value_or(false)) {
      if (has_time) {
        return respond(MakeErrorResponse(
            {Errc::kInvalidArgument, "give either now: true or one of delay_ms, at_ms, at"}));
      }
    } else {
      if (!has_time) {
        return respond(MakeErrorResponse(
            {Errc::kInvalidArgument, "reschedule needs one of delay_ms, at_ms, at or now: true"}));
      }
      auto decoded = DecodeDueTime(*body, api_config, now, "");
      if (!decoded) return respond(MakeErrorResponse(decoded.error()));
      due = *decoded;
    }
    return engine.Reschedule(id, due, AnswerWithTask(engine, std::move(respond)));
  }
  if (action == "redrive") return engine.Redrive(id, AnswerWithTask(engine, std::move(respond)));
  respond(MakeErrorResponse(
      {Errc::kNotFound, "no action '" + std::string(action) +
                            "' on tasks (ack, nack, extend, reschedule, redrive)"}));
}

json::object StatsJson(const store::TopicStats& stats) {
  json::object counts;
  for (size_t i = 0; i < stats.by_state.size(); ++i) {
    counts[StateName(static_cast<TaskState>(i))] = stats.by_state[i];
  }
  json::object out;
  out["topic"] = stats.topic;
  out["counts"] = std::move(counts);
  out["due"] = stats.due_waiting;
  out["oldest_due_lateness_ms"] = stats.oldest_due_lateness_ms;
  return out;
}

void TopicsList(engine::Engine& engine, std::string_view topic, http::Responder respond) {
  auto stats = engine.Topics(std::string(topic));
  if (!stats) return respond(MakeErrorResponse(stats.error()));
  if (!topic.empty()) {
    if (stats->empty()) {
      return respond(
          MakeErrorResponse({Errc::kNotFound, "topic '" + std::string(topic) + "' has no tasks"}));
    }
    return respond(JsonResponse(200, StatsJson(stats->front())));
  }
  json::array topics;
  for (const auto& s : *stats) topics.push_back(StatsJson(s));
  json::object out;
  out["topics"] = std::move(topics);
  respond(JsonResponse(200, out));
}

void DeadList(engine::Engine& engine, std::string_view topic, const http::Request& request,
              http::Responder respond) {
  TaskId after = 0;
  if (std::string_view text = QueryParam(request.target, "after"); !text.empty()) {
    auto parsed = ParseTaskId(text);
    if (!parsed)
      return respond(MakeErrorResponse({Errc::kInvalidArgument, "after must be a task id"}));
    after = *parsed;
  }
  size_t limit = 100;
  if (std::string_view text = QueryParam(request.target, "limit"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit == 0 ||
        limit > ApiConfig::kMaxDeadPage) {
      return respond(
          MakeErrorResponse({Errc::kInvalidArgument, "limit must be between 1 and " +
                                                         std::to_string(ApiConfig::kMaxDeadPage)}));
    }
  }
  auto dead = engine.ListDead(std::string(topic), after, limit);
  if (!dead) return respond(MakeErrorResponse(dead.error()));
  int64_t now = engine.NowMs();
  json::array tasks;
  for (const Task& task : *dead) tasks.push_back(TaskJson(task, now));
  json::object out;
  out["tasks"] = std::move(tasks);
  out["next_after"] =
      dead->size() == limit ? json::value(std::to_string(dead->back().id)) : json::value(nullptr);
  respond(JsonResponse(200, out));
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

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
  return task;
}

void HandleV1(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
              const http::Request& request, http::Responder respond) {
  auto deny = [&](Right right, std::string_view topic) {
    auto ok = Authenticator::Authorize(who, right, topic);
    if (!ok) respond(MakeErrorResponse(ok.error()));
    return !ok;
  };
  std::vector<std::string_view> parts = Split(request.Path().substr(4));  // after "/v1/"
  const std::string& method = request.method;
  auto not_found = [&] {
    respond(MakeErrorResponse(
        {Errc::kNotFound,
         "no route for " + method + " " + std::string(request.Path()) + " (see docs/API.md)"}));
  };
  if (parts.empty()) return not_found();
  if (parts[0] == "schedules") {
    return HandleV1Schedules(engine, api_config, who, request, parts, std::move(respond));
  }

  if (parts[0] == "topics") {
    if (parts.size() == 1) {
      if (method != "GET")
        return respond(MethodNotAllowedResponse(request.method, request.Path(), "GET"));
      if (deny(Right::kAdmin, "")) return;
      return TopicsList(engine, "", std::move(respond));
    }
    std::string_view topic = parts[1];
    if (auto ok = CheckTopic(topic, "topic in the path"); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    if (parts.size() == 2) {
      if (method != "GET")
        return respond(MethodNotAllowedResponse(request.method, request.Path(), "GET"));
      if (deny(Right::kRead, topic)) return;
      return TopicsList(engine, topic, std::move(respond));
    }
    if (parts.size() != 3) return not_found();
    std::string_view leaf = parts[2];
    if (leaf == "dead") {
      if (method != "GET")
        return respond(MethodNotAllowedResponse(request.method, request.Path(), "GET"));
      if (deny(Right::kRead, topic)) return;
      return DeadList(engine, topic, request, std::move(respond));
    }
    if (leaf != "tasks" && leaf != "tasks:batch" && leaf != "pull") return not_found();
    if (method != "POST")
      return respond(MethodNotAllowedResponse(request.method, request.Path(), "POST"));
    if (deny(leaf == "pull" ? Right::kConsume : Right::kPublish, topic)) return;
    if (leaf == "tasks") return AddTask(engine, api_config, topic, request, std::move(respond));
    if (leaf == "tasks:batch")
      return AddBatch(engine, api_config, topic, request, std::move(respond));
    return Pull(engine, std::string(topic), request, std::move(respond));
  }

  if (parts[0] == "tasks" && (parts.size() == 2 || parts.size() == 3)) {
    auto id = ParseTaskId(parts[1]);
    if (!id) return respond(MakeErrorResponse(id.error()));
    // The right needed depends on the action; the topic is the task's.
    Right right = Right::kPublish;  // cancel, reschedule, redrive
    if (parts.size() == 2 && method == "GET") right = Right::kRead;
    if (parts.size() == 3 && (parts[2] == "ack" || parts[2] == "nack" || parts[2] == "extend")) {
      right = Right::kConsume;
    }
    std::optional<Task> task;
    if (who != nullptr || (parts.size() == 2 && method == "GET")) {
      auto found = engine.Get(*id);
      if (!found) return respond(MakeErrorResponse(found.error()));
      // A topic token learns nothing about other topics' tasks: one not among its topics
      // answers exactly as an unknown id does (404), not 403.
      if (who != nullptr && !who->admin &&
          std::find(who->topics.begin(), who->topics.end(), found->topic) == who->topics.end()) {
        return respond(
            MakeErrorResponse({Errc::kNotFound, "task " + std::to_string(*id) + " not found"}));
      }
      if (deny(right, found->topic)) return;
      task = std::move(*found);
    }
    if (parts.size() == 2) {
      if (method == "GET") return respond(JsonResponse(200, TaskJson(*task, engine.NowMs())));
      if (method == "DELETE") return engine.Cancel(*id, AnswerWithTask(engine, std::move(respond)));
      return respond(MethodNotAllowedResponse(request.method, request.Path(), "GET, DELETE"));
    }
    std::string_view action = parts[2];
    if (action != "ack" && action != "nack" && action != "extend" && action != "reschedule" &&
        action != "redrive") {
      return not_found();
    }
    if (method != "POST")
      return respond(MethodNotAllowedResponse(request.method, request.Path(), "POST"));
    return TaskAction(engine, api_config, *id, parts[2], request, std::move(respond));
  }
  not_found();
}

http::Response V1JsonResponse(int status, const json::value& body) {
  return JsonResponse(status, body);
}

std::string_view V1QueryParam(std::string_view target, std::string_view name) {
  return QueryParam(target, name);
}

}  // namespace delayq::api
