#include "api/v1_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/errors.h"
#include "api/json_fields.h"
#include "api/trace_headers.h"
#include "api/v1_codec.h"
#include "api/v1_schedules.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

engine::Engine::TaskDone AnswerWithTask(engine::Engine& engine, http::Responder respond) {
  return [&engine, respond = std::move(respond)](Result<Task> task) {
    if (!task) return respond(MakeErrorResponse(task.error()));
    respond(DeferredJson(
        200, [task = std::move(*task), now = engine.NowMs()] { return TaskJson(task, now); }));
  };
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
  out["paused"] = stats.paused;
  if (stats.paused) out["paused_at_ms"] = stats.paused_at_ms;
  return out;
}

// The topic's callback limits in force, beside its counts (the dashboard's topic page).
json::object WithLimits(const engine::Engine& engine, json::object topic) {
  auto limits = engine.LimitsOf(std::string(topic.at("topic").as_string()));
  topic["limits"] =
      json::object{{"max_in_flight", limits.max_in_flight}, {"rate_limit", limits.rate_limit}};
  return topic;
}

}  // namespace

void AddTask(engine::Engine& engine, const ApiConfig& api_config, std::string_view topic,
             const http::Request& request, http::Responder respond) {
  auto body = ParseBodyObject(request.body, "payload and delay_ms, at_ms or at");
  if (!body) return respond(MakeErrorResponse(body.error()));
  int64_t now = engine.NowMs();
  auto task = DecodeV1Task(topic, *body, api_config, now, "");
  if (!task) return respond(MakeErrorResponse(task.error()));
  auto headers = TraceFromHeaders(request);
  if (!headers) return respond(MakeErrorResponse(headers.error()));
  auto trace = TraceForItem(*body, "", *headers);
  if (!trace) return respond(MakeErrorResponse(trace.error()));
  task->traceparent = std::move(trace->traceparent);
  task->tracestate = std::move(trace->tracestate);
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
  auto headers = TraceFromHeaders(request);
  if (!headers) return respond(MakeErrorResponse(headers.error()));
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
    auto trace = TraceForItem(array[i].get_object(), prefix, *headers);
    if (!trace) return respond(MakeErrorResponse(trace.error()));
    task->traceparent = std::move(trace->traceparent);
    task->tracestate = std::move(trace->tracestate);
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
                     AddOccurrenceFields(item, task.dedup_key);
                     AddTraceFields(item, task);
                     out.push_back(std::move(item));
                   }
                   json::object body;
                   body["tasks"] = std::move(out);
                   return body;
                 }));
               });
}

void SettleLease(engine::Engine& engine, const ApiConfig& api_config, TaskId id, bool nack,
                 const http::Request& request, http::Responder respond) {
  auto body = ParseBodyObject(request.body, "lease");
  if (!body) return respond(MakeErrorResponse(body.error()));
  auto lease = DecodeLease(*body);
  if (!lease) return respond(MakeErrorResponse(lease.error()));
  if (!nack) return engine.Ack(id, *lease, AnswerWithTask(engine, std::move(respond)));
  auto delay = BoundedInteger(*body, "", "delay_ms", 0, api_config.max_delay_ms);
  if (!delay) return respond(MakeErrorResponse(delay.error()));
  engine.Nack(id, *lease, delay->value_or(0), AnswerWithTask(engine, std::move(respond)));
}

void ExtendLease(engine::Engine& engine, TaskId id, const http::Request& request,
                 http::Responder respond) {
  auto body = ParseBodyObject(request.body, "lease and lease_ms");
  if (!body) return respond(MakeErrorResponse(body.error()));
  auto lease = DecodeLease(*body);
  if (!lease) return respond(MakeErrorResponse(lease.error()));
  auto lease_ms =
      BoundedInteger(*body, "", "lease_ms", ApiConfig::kMinLeaseMs, ApiConfig::kMaxLeaseMs);
  if (!lease_ms) return respond(MakeErrorResponse(lease_ms.error()));
  engine.Extend(id, *lease, lease_ms->value_or(ApiConfig::kDefaultLeaseMs),
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

void Reschedule(engine::Engine& engine, const ApiConfig& api_config, TaskId id,
                const http::Request& request, http::Responder respond) {
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
  engine.Reschedule(id, due, AnswerWithTask(engine, std::move(respond)));
}

void Redrive(engine::Engine& engine, TaskId id, http::Responder respond) {
  engine.Redrive(id, AnswerWithTask(engine, std::move(respond)));
}

void GetTask(const engine::Engine& engine, const Task& task, http::Responder respond) {
  respond(JsonResponse(200, TaskJson(task, engine.NowMs())));
}

void CancelTask(engine::Engine& engine, TaskId id, http::Responder respond) {
  engine.Cancel(id, AnswerWithTask(engine, std::move(respond)));
}

void ListTopics(engine::Engine& engine, std::string_view topic, http::Responder respond) {
  auto stats = engine.Topics(std::string(topic));
  if (!stats) return respond(MakeErrorResponse(stats.error()));
  if (!topic.empty()) {
    if (stats->empty()) {
      return respond(
          MakeErrorResponse({Errc::kNotFound, "topic '" + std::string(topic) + "' has no tasks"}));
    }
    return respond(JsonResponse(200, WithLimits(engine, StatsJson(stats->front()))));
  }
  json::array topics;
  for (const auto& s : *stats) topics.push_back(WithLimits(engine, StatsJson(s)));
  json::object out;
  out["topics"] = std::move(topics);
  respond(JsonResponse(200, out));
}

void SetTopicPaused(engine::Engine& engine, std::string_view topic, bool paused,
                    http::Responder respond) {
  engine.SetTopicPaused(std::string(topic), paused,
                        [respond = std::move(respond)](Result<store::TopicStats> stats) {
                          if (!stats) return respond(MakeErrorResponse(stats.error()));
                          respond(JsonResponse(200, StatsJson(*stats)));
                        });
}

void ListDead(engine::Engine& engine, std::string_view topic, const http::Request& request,
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
}  // namespace delayq::api
