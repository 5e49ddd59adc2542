#include "api/v1_schedules.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "api/auth.h"
#include "api/errors.h"
#include "api/json_fields.h"
#include "api/v1_api.h"
#include "api/v1_codec.h"
#include "delivery/sink_spec.h"
#include "schedule/timing.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

constexpr size_t kDefaultListLimit = 100;
constexpr size_t kMaxListLimit = 1000;
// Fire times in a schedule object.
constexpr size_t kNextFires = 5;

Error Invalid(std::string message) { return Error{Errc::kInvalidArgument, std::move(message)}; }

Result<void> CheckName(std::string_view name) {
  if (schedule::IsValidName(name)) return {};
  return std::unexpected(
      Invalid("schedule name in the path must be 1-128 characters of "
              "[A-Za-z0-9._:-], not '" +
              std::string(name.substr(0, 64)) + "'"));
}

// An optional integer field within [min, max]; errors name it.
Result<int64_t> Bounded(const json::object& body, std::string_view field, int64_t min, int64_t max,
                        int64_t fallback) {
  auto value = OptionalInteger(body, field);
  if (!value) return std::unexpected(value.error());
  if (!*value) return fallback;
  if (**value < min || **value > max) {
    return std::unexpected(Invalid(std::string(field) + " must be between " + std::to_string(min) +
                                   " and " + std::to_string(max)));
  }
  return **value;
}

Result<void> DecodeTiming(const json::object& body, int64_t now_ms, schedule::Definition& d) {
  auto cron = OptionalString(body, "cron");
  if (!cron) return std::unexpected(cron.error());
  if (*cron && (*cron)->empty()) return std::unexpected(Invalid("cron must not be empty"));
  d.timing.cron = cron->value_or("");
  auto every = OptionalInteger(body, "every_ms");
  if (!every) return std::unexpected(every.error());
  if (*every && **every <= 0) {
    return std::unexpected(Invalid("every_ms must be a positive number of milliseconds (at least " +
                                   std::to_string(schedule::kMinEveryMs) + ")"));
  }
  d.timing.every_ms = every->value_or(0);
  auto zone = OptionalString(body, "time_zone");
  if (!zone) return std::unexpected(zone.error());
  d.timing.time_zone = zone->value_or("UTC");
  constexpr int64_t kMaxMs = 4'102'444'800'000;  // 2100-01-01
  auto start = Bounded(body, "start_at_ms", 1, kMaxMs, 0);
  if (!start) return std::unexpected(start.error());
  auto end = Bounded(body, "end_at_ms", 1, kMaxMs, 0);
  if (!end) return std::unexpected(end.error());
  d.timing.start_at_ms = *start;
  d.timing.end_at_ms = *end;
  d.timing.anchor_ms = now_ms;
  auto timing = schedule::Timing::Make(d.timing);  // names cron, every_ms, time_zone, end_at_ms
  if (!timing) return std::unexpected(timing.error());
  return {};
}

Result<void> DecodePolicy(const json::object& body, schedule::Definition& d) {
  auto jitter = Bounded(body, "jitter_ms", 0, schedule::kMaxJitterMs, 0);
  if (!jitter) return std::unexpected(jitter.error());
  d.jitter_ms = *jitter;
  auto catch_up = OptionalString(body, "catch_up");
  if (!catch_up) return std::unexpected(catch_up.error());
  if (*catch_up) {
    auto policy = schedule::ParseCatchUp(**catch_up);
    if (!policy) {
      return std::unexpected(Invalid("catch_up must be \"skip\", \"latest\" or \"all\", not \"" +
                                     (*catch_up)->substr(0, 32) + "\""));
    }
    d.catch_up = *policy;
  }
  auto window = Bounded(body, "catch_up_window_ms", 1000, schedule::kMaxCatchUpWindowMs,
                        schedule::kDefaultCatchUpWindowMs);
  if (!window) return std::unexpected(window.error());
  d.catch_up_window_ms = *window;
  auto paused = OptionalBool(body, "paused");
  if (!paused) return std::unexpected(paused.error());
  d.paused = paused->value_or(false);
  return {};
}

Result<void> DecodeTemplate(const json::object& body, const ApiConfig& api_config, int64_t now_ms,
                            schedule::Definition& d) {
  const json::value* task = body.if_contains("task");
  if (task == nullptr || !task->is_object()) {
    return std::unexpected(
        Invalid("task is required: an object with payload and optionally "
                "callback or sink, max_attempts"));
  }
  const json::object& t = task->get_object();
  for (std::string_view field : {"dedup_key", "delay_ms", "at_ms", "at"}) {
    if (t.contains(field)) {
      return std::unexpected(Invalid("task." + std::string(field) +
                                     " is not allowed: each occurrence's time and identity "
                                     "come from the schedule"));
    }
  }
  for (std::string_view field : {"traceparent", "tracestate"}) {
    if (t.contains(field)) {
      return std::unexpected(Invalid("task." + std::string(field) +
                                     " is not allowed: a schedule's tasks carry no trace context "
                                     "(each occurrence starts its own)"));
    }
  }
  auto decoded = DecodeV1Task(d.topic, t, api_config, now_ms, "task.");
  if (!decoded) return std::unexpected(decoded.error());
  d.task.payload = std::move(decoded->payload);
  d.task.payload_is_json = decoded->payload_is_json;
  d.task.kind = static_cast<uint8_t>(decoded->kind);
  d.task.callback = std::move(decoded->callback);
  d.task.max_attempts = decoded->max_attempts;
  return {};
}

}  // namespace

Result<schedule::Definition> DecodeScheduleDefinition(const json::object& body,
                                                      const ApiConfig& api_config, int64_t now_ms) {
  schedule::Definition d;
  auto topic = RequireString(body, "topic");
  if (!topic) return std::unexpected(topic.error());
  if (auto ok = CheckTopic(*topic, "topic"); !ok) return std::unexpected(ok.error());
  d.topic = std::move(*topic);
  if (auto ok = DecodeTiming(body, now_ms, d); !ok) return std::unexpected(ok.error());
  if (auto ok = DecodePolicy(body, d); !ok) return std::unexpected(ok.error());
  if (auto ok = DecodeTemplate(body, api_config, now_ms, d); !ok) {
    return std::unexpected(ok.error());
  }
  return d;
}

// --- Encoding ---------------------------------------------------------------------------------

namespace {

json::value ParsedOr(const std::string& text, json::value fallback) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  return ec ? fallback : value;
}

json::object TemplateJson(const schedule::TaskTemplate& t) {
  json::object out;
  out["payload"] = t.payload_is_json ? ParsedOr(t.payload, json::string(t.payload))
                                     : json::value(json::string(t.payload));
  bool sink =
      t.kind == static_cast<uint8_t>(DeliveryKind::kCallback) && delivery::IsSinkSpec(t.callback);
  out["kind"] = t.kind == static_cast<uint8_t>(DeliveryKind::kPull) ? "pull"
                : sink                                              ? "sink"
                                                                    : "callback";
  json::value spec = ParsedOr(t.callback, nullptr);
  if (sink && spec.is_object() && spec.get_object().contains("sink")) {
    out["sink"] = spec.get_object().at("sink");
  } else if (!sink && spec.is_object()) {
    spec.get_object().erase("headers");  // may carry credentials
    out["callback"] = std::move(spec);
  }
  out["max_attempts"] = t.max_attempts == 0 ? json::value(nullptr) : json::value(t.max_attempts);
  return out;
}

json::value OptionalMs(int64_t ms) { return ms == 0 ? json::value(nullptr) : json::value(ms); }

json::array NextFires(const engine::ScheduleInfo& s, int64_t now_ms) {
  json::array out;
  const int64_t pending = s.progress.next_occurrence_ms;
  if (s.definition.paused || pending == schedule::kNoOccurrence) return out;
  auto timing = schedule::Timing::Make(s.definition.timing);
  if (!timing) return out;
  std::vector<int64_t> fires;
  if (pending > now_ms) {
    fires.push_back(pending);
    for (int64_t t : timing->Next(pending, kNextFires - 1)) fires.push_back(t);
  } else {
    fires = timing->Next(now_ms, kNextFires);  // the pending one is firing now
  }
  for (int64_t t : fires) out.push_back(t);
  return out;
}

}  // namespace

json::object ScheduleJson(const engine::ScheduleInfo& s, int64_t now_ms) {
  const schedule::Definition& d = s.definition;
  const schedule::Progress& p = s.progress;
  json::object out;
  out["name"] = s.name;
  out["topic"] = d.topic;
  if (!d.timing.cron.empty()) {
    out["cron"] = d.timing.cron;
  } else {
    out["every_ms"] = d.timing.every_ms;
  }
  out["time_zone"] = d.timing.time_zone;
  out["start_at_ms"] = OptionalMs(d.timing.start_at_ms);
  out["end_at_ms"] = OptionalMs(d.timing.end_at_ms);
  out["jitter_ms"] = d.jitter_ms;
  out["catch_up"] = schedule::CatchUpName(d.catch_up);
  out["catch_up_window_ms"] = d.catch_up_window_ms;
  out["paused"] = d.paused;
  out["task"] = TemplateJson(d.task);
  out["next_ms"] = NextFires(s, now_ms);
  // A pending occurrence whose time has come has fired (its step may be a moment away).
  int64_t last = p.last_occurrence_ms;
  TaskId last_id = p.last_task_id;
  if (p.next_occurrence_ms != schedule::kNoOccurrence && p.next_occurrence_ms <= now_ms) {
    last = p.next_occurrence_ms;
    last_id = p.next_task_id;
  }
  out["last_occurrence_ms"] = OptionalMs(last);
  out["last_task_id"] = last_id == 0 ? json::value(nullptr) : json::value(std::to_string(last_id));
  out["created_at_ms"] = p.created_at_ms;
  out["updated_at_ms"] = p.updated_at_ms;
  return out;
}

// --- Handlers ---------------------------------------------------------------------------------

namespace {

engine::Engine::ScheduleDone Answer(engine::Engine& engine, http::Responder respond,
                                    bool created_is_201) {
  return [&engine, respond = std::move(respond), created_is_201](Result<engine::ScheduleInfo> s) {
    if (!s) return respond(MakeErrorResponse(s.error()));
    respond(
        JsonResponse(created_is_201 && s->created ? 201 : 200, ScheduleJson(*s, engine.NowMs())));
  };
}

void Put(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
         std::string name, const http::Request& request, http::Responder respond) {
  auto body = ParseBodyObject(request.body, "topic, cron or every_ms, and task");
  if (!body) return respond(MakeErrorResponse(body.error()));
  auto definition = DecodeScheduleDefinition(*body, api_config, engine.NowMs());
  if (!definition) return respond(MakeErrorResponse(definition.error()));
  if (auto ok = Authenticator::Authorize(who, Right::kPublish, definition->topic); !ok) {
    return respond(MakeErrorResponse(ok.error()));
  }
  engine.PutSchedule(std::move(name), std::move(*definition),
                     Answer(engine, std::move(respond), true));
}

void List(engine::Engine& engine, const Principal* who, const http::Request& request,
          http::Responder respond) {
  std::string topic(QueryParam(request.target, "topic"));
  if (!topic.empty()) {
    if (auto ok = CheckTopic(topic, "topic (query parameter)"); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
  }
  auto ok = Authenticator::Authorize(who, topic.empty() ? Right::kAdmin : Right::kRead, topic);
  if (!ok) return respond(MakeErrorResponse(ok.error()));
  std::string cursor(QueryParam(request.target, "cursor"));
  if (!cursor.empty() && !schedule::IsValidName(cursor)) {
    return respond(MakeErrorResponse(
        Invalid("cursor must be the next_cursor of a previous answer (a schedule name)")));
  }
  size_t limit = kDefaultListLimit;
  if (std::string_view text = QueryParam(request.target, "limit"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit < 1 ||
        limit > kMaxListLimit) {
      return respond(MakeErrorResponse(
          Invalid("limit must be a number from 1 to " + std::to_string(kMaxListLimit))));
    }
  }
  auto schedules = engine.ListSchedules(topic, cursor, limit);
  if (!schedules) return respond(MakeErrorResponse(schedules.error()));
  json::object out;
  json::array items;
  int64_t now = engine.NowMs();
  for (const engine::ScheduleInfo& s : *schedules) items.push_back(ScheduleJson(s, now));
  out["schedules"] = std::move(items);
  out["next_cursor"] =
      schedules->size() == limit ? json::value(schedules->back().name) : json::value(nullptr);
  respond(JsonResponse(200, out));
}

// The right to act on an existing schedule: that of its topic. A topic token learns nothing of
// other topics' schedules (404, as for an unknown name).
Result<void> AuthorizeExisting(engine::Engine& engine, const Principal* who,
                               const std::string& name, Right right) {
  if (who == nullptr) return {};
  auto found = engine.GetSchedule(name);
  if (!found) return std::unexpected(found.error());
  const std::string& topic = found->definition.topic;
  if (!who->admin &&
      std::find(who->topics.begin(), who->topics.end(), topic) == who->topics.end()) {
    return std::unexpected(Error{Errc::kNotFound, "schedule " + name + " not found"});
  }
  return Authenticator::Authorize(who, right, topic);
}

void Action(engine::Engine& engine, std::string name, std::string_view action,
            http::Responder respond) {
  if (action == "pause")
    return engine.PauseSchedule(name, Answer(engine, std::move(respond), false));
  if (action == "resume") {
    return engine.ResumeSchedule(name, Answer(engine, std::move(respond), false));
  }
  engine.TriggerSchedule(name,
                         [name, respond = std::move(respond)](Result<engine::TriggeredTask> task) {
                           if (!task) return respond(MakeErrorResponse(task.error()));
                           json::object out;
                           out["id"] = std::to_string(task->id);
                           out["schedule"] = name;
                           out["occurrence_ms"] = task->occurrence_ms;
                           respond(JsonResponse(201, out));
                         });
}

}  // namespace

void HandleV1Schedules(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
                       const http::Request& request, http::Responder respond) {
  const std::string& method = request.method;
  // The router matched /v1/schedules[/{name}[/action]] (one trailing slash ignored).
  std::vector<std::string_view> parts;
  std::string_view rest = request.Path().substr(4);  // after "/v1/"
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (parts.size() == 1) {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, request.Path(), "GET"));
    return List(engine, who, request, std::move(respond));
  }
  if (parts.size() > 3) {
    return respond(MakeErrorResponse(
        {Errc::kNotFound,
         "no route for " + method + " " + std::string(request.Path()) + " (see docs/API.md)"}));
  }
  if (auto ok = CheckName(parts[1]); !ok) return respond(MakeErrorResponse(ok.error()));
  std::string name(parts[1]);
  if (parts.size() == 2) {
    if (method == "PUT") return Put(engine, api_config, who, name, request, std::move(respond));
    if (method != "GET" && method != "DELETE") {
      return respond(MethodNotAllowedResponse(method, request.Path(), "GET, PUT, DELETE"));
    }
    Right right = method == "GET" ? Right::kRead : Right::kPublish;
    if (auto ok = AuthorizeExisting(engine, who, name, right); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    if (method == "DELETE") {
      return engine.DeleteSchedule(name, Answer(engine, std::move(respond), false));
    }
    auto found = engine.GetSchedule(name);
    if (!found) return respond(MakeErrorResponse(found.error()));
    return respond(JsonResponse(200, ScheduleJson(*found, engine.NowMs())));
  }
  std::string_view action = parts[2];
  if (action != "pause" && action != "resume" && action != "trigger") {
    return respond(
        MakeErrorResponse({Errc::kNotFound, "no action '" + std::string(action) +
                                                "' on schedules (pause, resume, trigger)"}));
  }
  if (method != "POST") return respond(MethodNotAllowedResponse(method, request.Path(), "POST"));
  if (auto ok = AuthorizeExisting(engine, who, name, Right::kPublish); !ok) {
    return respond(MakeErrorResponse(ok.error()));
  }
  Action(engine, std::move(name), action, std::move(respond));
}

void AddOccurrenceFields(json::object& task_json, const std::string& dedup_key) {
  if (auto occurrence = schedule::ParseOccurrenceKey(dedup_key)) {
    task_json["schedule"] = occurrence->schedule;
    task_json["occurrence_ms"] = occurrence->occurrence_ms;
  }
}

Result<void> CheckUserDedupKey(std::string_view key, const std::string& field) {
  if (!key.starts_with(schedule::kOccurrenceKeyPrefix)) return {};
  return std::unexpected(Invalid(field + " must not start with \"" +
                                 std::string(schedule::kOccurrenceKeyPrefix) +
                                 "\" (reserved for the occurrences of schedules)"));
}

}  // namespace delayq::api
