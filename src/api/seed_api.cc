#include "api/seed_api.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <limits>

#include "api/auth.h"
#include "api/errors.h"
#include "api/json_fields.h"
#include "api/trace_headers.h"
#include "delivery/callback_spec.h"
#include "delivery/registry.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kAddFields = "topic, timing_moment, content";
constexpr std::string_view kPullFields = "topic (and optionally task_id)";

// Seed v2: content that is a JSON object with a "url" is a callback task. An absolute url
// is called as is; otherwise "sn" names a service of the registry and url is the path on
// it. Returns the canonical callback spec, or "" for a pull task.
Result<std::string> SeedCallback(std::string_view content, const ApiConfig& config) {
  size_t first = content.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || content[first] != '{') return std::string();
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::value value =
      json::parse(json::string_view(content.data(), content.size()), ec, {}, options);
  if (ec || !value.is_object()) return std::string();
  const json::object& object = value.get_object();
  const json::value* url = object.if_contains("url");
  if (url == nullptr) return std::string();
  if (!url->is_string() || url->get_string().empty()) {
    return Fail(Errc::kInvalidArgument, "content.url must be a non-empty string");
  }
  if (config.registry == nullptr) {
    return Fail(Errc::kInvalidArgument, "content has a url, but callback delivery is disabled");
  }
  delivery::CallbackSpec spec;
  std::string_view target(url->get_string().data(), url->get_string().size());
  // Absolute when a scheme comes before the first slash ("https://h/p", "ftp://h"); a path
  // may carry "://" in its query ("/cb?next=http://x").
  size_t scheme_end = target.find("://");
  bool absolute = scheme_end != std::string_view::npos && scheme_end < target.find('/');
  std::string field = "content.url";
  if (absolute) {
    spec.url = std::string(target);
  } else {
    const json::value* sn = object.if_contains("sn");
    if (sn == nullptr || !sn->is_string() || sn->get_string().empty()) {
      return Fail(Errc::kInvalidArgument,
                  "content.url '" + std::string(target.substr(0, 200)) +
                      "' is a path: give sn (a service name from the services configuration) "
                      "or an absolute http(s) URL");
    }
    spec.service = std::string(sn->get_string());
    spec.path = target.front() == '/' ? std::string(target) : "/" + std::string(target);
    field = "content.sn";
  }
  if (auto ok = config.registry->Check(spec, field); !ok) return std::unexpected(ok.error());
  return delivery::EncodeCallbackSpec(spec);
}

Result<std::optional<TaskId>> DecodeTaskId(const json::object& body) {
  const json::value* value = body.if_contains("task_id");
  if (value == nullptr || value->is_null()) return std::optional<TaskId>();
  // Ids are 63-bit numbers; some clients send them as strings to keep precision.
  if (value->is_string()) {
    const json::string& s = value->get_string();
    TaskId id = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
      return Fail(Errc::kInvalidArgument, "task_id must be a positive integer");
    }
    return id == 0 ? std::optional<TaskId>() : std::optional<TaskId>(id);
  }
  if (value->is_uint64()) return std::optional<TaskId>(value->get_uint64());
  if (!value->is_int64()) {
    return Fail(Errc::kInvalidArgument, "task_id must be a positive integer");
  }
  int64_t id = value->get_int64();
  if (id < 0) return Fail(Errc::kInvalidArgument, "task_id must be a positive integer");
  // 0 is what a client with an unset integer field sends: treat it as "not given".
  return id == 0 ? std::optional<TaskId>() : std::optional<TaskId>(static_cast<TaskId>(id));
}

}  // namespace

Result<SeedAdd> DecodeSeedAdd(std::string_view body, const ApiConfig& api_config, int64_t now_ms) {
  auto object = ParseBodyObject(body, kAddFields);
  if (!object) return std::unexpected(object.error());
  SeedAdd add;

  auto topic = RequireString(*object, "topic");
  if (!topic) return std::unexpected(topic.error());
  if (auto ok = CheckTopic(*topic); !ok) return std::unexpected(ok.error());
  add.topic = std::move(*topic);

  auto moment = RequireInteger(*object, "timing_moment");
  if (!moment) return std::unexpected(moment.error());
  if (*moment < 0) {
    return Fail(Errc::kInvalidArgument, "timing_moment must be a unix time in seconds, >= 0");
  }
  if (*moment > std::numeric_limits<int64_t>::max() / 1000) {
    return Fail(Errc::kInvalidArgument, "timing_moment is out of range (unix seconds expected)");
  }
  auto due = CheckDueAtMs(*moment * 1000, now_ms, api_config, "timing_moment");
  if (!due) return std::unexpected(due.error());
  add.due_at_ms = *due;

  auto content = RequireString(*object, "content");
  if (!content) return std::unexpected(content.error());
  if (auto ok = CheckPayloadSize(content->size(), api_config, "content"); !ok) {
    return std::unexpected(ok.error());
  }
  auto callback = SeedCallback(*content, api_config);
  if (!callback) return std::unexpected(callback.error());
  add.callback_json = std::move(*callback);
  add.content = std::move(*content);
  return add;
}

Result<SeedPull> DecodeSeedPull(std::string_view body) {
  auto object = ParseBodyObject(body, kPullFields);
  if (!object) return std::unexpected(object.error());
  SeedPull pull;
  auto topic = RequireString(*object, "topic");
  if (!topic) return std::unexpected(topic.error());
  if (auto ok = CheckTopic(*topic); !ok) return std::unexpected(ok.error());
  pull.topic = std::move(*topic);
  auto id = DecodeTaskId(*object);
  if (!id) return std::unexpected(id.error());
  pull.task_id = *id;
  return pull;
}

std::string EncodeSeedAddOk(TaskId id) {
  return fmt::format(R"({{"dm_error":0,"error_msg":"{}","task_id":{}}})", kSuccessMessage, id);
}

std::string EncodeSeedPullOk(TaskId id, std::string_view content) {
  json::object body;
  body["dm_error"] = 0;
  body["error_msg"] = kSuccessMessage;
  body["task_id"] = id;
  body["content"] = json::string_view(content.data(), content.size());
  return json::serialize(body);
}

void HandleSeedAdd(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
                   const http::Request& request, http::Responder respond) {
  auto add = DecodeSeedAdd(request.body, api_config, engine.NowMs());
  if (!add) return respond(MakeErrorResponse(add.error()));
  if (auto ok = Authenticator::Authorize(who, Right::kPublish, add->topic); !ok) {
    return respond(MakeErrorResponse(ok.error()));
  }
  auto trace = TraceFromHeaders(request);
  if (!trace) return respond(MakeErrorResponse(trace.error()));
  std::vector<engine::NewTask> tasks(1);
  tasks[0].topic = std::move(add->topic);
  tasks[0].due_at_ms = add->due_at_ms;
  tasks[0].payload = std::move(add->content);
  tasks[0].kind = add->callback_json.empty() ? DeliveryKind::kPull : DeliveryKind::kCallback;
  tasks[0].callback = std::move(add->callback_json);
  tasks[0].traceparent = std::move(trace->traceparent);
  tasks[0].tracestate = std::move(trace->tracestate);
  if (auto defaults = FindTopicDefaults(api_config, tasks[0].topic)) {
    tasks[0].max_attempts = defaults->max_attempts;
    // Seed v1 content (no url) on a topic with a default sink is produced there, content
    // byte for byte as the message value (the seed's Kafka push).
    if (tasks[0].kind == DeliveryKind::kPull && !defaults->sink_json.empty()) {
      tasks[0].kind = DeliveryKind::kCallback;
      tasks[0].callback = std::move(defaults->sink_json);
    }
  }
  engine.Add(std::move(tasks),
             [respond = std::move(respond)](Result<std::vector<engine::AddedTask>> ids) {
               if (!ids) return respond(MakeErrorResponse(ids.error()));
               respond(http::Response{200, "application/json", EncodeSeedAddOk(ids->front().id)});
             });
}

void HandleSeedPull(engine::Engine& engine, const Principal* who, const http::Request& request,
                    http::Responder respond) {
  auto pull = DecodeSeedPull(request.body);
  if (!pull) return respond(MakeErrorResponse(pull.error()));
  if (auto ok = Authenticator::Authorize(who, Right::kConsume, pull->topic); !ok) {
    return respond(MakeErrorResponse(ok.error()));
  }
  auto on_done = [respond = std::move(respond)](Result<std::optional<Task>> task) {
    if (!task) return respond(MakeErrorResponse(task.error()));
    if (!task->has_value())
      return respond(http::Response{200, "application/json", EncodeSeedPullOk(0, "")});
    respond(
        http::Response{200, "application/json", EncodeSeedPullOk((*task)->id, (*task)->payload)});
  };
  if (pull->task_id) {
    engine.PullById(std::move(pull->topic), *pull->task_id, std::move(on_done));
  } else {
    engine.PullOldest(std::move(pull->topic), std::move(on_done));
  }
}

}  // namespace delayq::api
