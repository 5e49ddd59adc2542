#include "api/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "api/auth.h"
#include "api/dashboard.h"
#include "api/errors.h"
#include "api/metrics_text.h"
#include "api/request_id.h"
#include "api/seed_api.h"
#include "api/task_access.h"
#include "api/v1_api.h"
#include "api/v1_dead_bulk.h"
#include "api/v1_listing.h"
#include "api/v1_schedules.h"
#include "common/logfmt.h"
#include "common/trace_context.h"
#include "delivery/sink.h"

namespace delayq::api {

namespace {

http::Response Json(int status, std::string body) {
  return http::Response{status, "application/json", std::move(body)};
}

// GET /readyz: whether the store takes writes, and each sink's state.
http::Response ReadyResponse(engine::Engine& engine, const delivery::Sinks* configured) {
  // A sink that cannot reach its servers leaves the server ready (adds are stored; due
  // tasks of that sink wait in retry) but is named here (docs/OPERATIONS.md, "Sinks").
  boost::json::object sinks;
  if (configured != nullptr) {
    for (delivery::SinkKind kind : {delivery::SinkKind::kKafka, delivery::SinkKind::kRedisStream}) {
      const delivery::Sink* sink = configured->Find(kind);
      if (sink == nullptr) continue;
      std::string problem = sink->Problem();
      boost::json::object state{{"status", problem.empty() ? "available" : "unavailable"}};
      if (!problem.empty()) state["reason"] = problem;
      sinks[delivery::SinkKindName(kind)] = std::move(state);
    }
  }
  if (engine.Ready()) {
    boost::json::object body{{"status", "ready"}};
    if (!sinks.empty()) body["sinks"] = std::move(sinks);
    return Json(200, boost::json::serialize(body));
  }
  std::string problem = engine.StoreProblem();
  boost::json::object body{{"status", "unavailable"},
                           {"reason", problem.empty() ? "storage is not writable" : problem}};
  if (!sinks.empty()) body["sinks"] = std::move(sinks);
  return Json(503, boost::json::serialize(body));
}

// How much of a failed answer's body goes into its log line.
constexpr size_t kLoggedErrorBytes = 256;

}  // namespace

void Router::Handle(http::Request request, http::Responder respond) {
  auto started = std::chrono::steady_clock::now();
  std::string request_id = RequestIdFor(request.Header("X-Request-Id"));
  RouteMatch match = MatchRoute(request.Path());
  std::string_view route = match.routes.empty() ? kUnmatchedRoute : match.routes.front().pattern;
  std::string_view method = MethodLabel(request.method);
  // What the log line needs, copied: the answer may come after the request is gone.
  std::string path(request.Path());
  std::string remote = request.remote;
  size_t bytes_in = request.body.size();
  // A request that continues a trace says so in its line (only a well-formed traceparent).
  std::string_view traceparent = request.Header("traceparent");
  std::string trace;
  if (!traceparent.empty() && TraceparentProblem(traceparent).empty()) {
    trace = TraceLogField(traceparent);
  }
  auto answer = [metrics = http_metrics_, access_log = api_config_.access_log, started, route,
                 method, request_id, path = std::move(path), remote = std::move(remote), bytes_in,
                 trace = std::move(trace), respond = std::move(respond)](http::Response response) {
    int64_t micros = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    metrics->Observe(route, method, response.status, micros);
    // Failures of the server itself are logged whether or not the access log is on.
    bool failed = response.status >= 500;
    // The level check first: with log_level above info, no line is formatted at all.
    if (failed || (access_log && spdlog::should_log(spdlog::level::info))) {
      std::string line = fmt::format(
          "msg={} request_id={} remote={} method={} path={} route={} status={} "
          "duration_ms={:.3f} bytes_in={} bytes_out={}",
          failed ? "\"request failed\"" : "request", request_id, LogValue(remote), LogValue(method),
          LogValue(path), LogValue(route), response.status, static_cast<double>(micros) / 1000.0,
          bytes_in, response.body.size());
      line += trace;
      if (failed) {
        line += " error=" + LogValue(std::string_view(response.body).substr(0, kLoggedErrorBytes));
        spdlog::warn("{}", line);
      } else {
        spdlog::info("{}", line);
      }
    }
    response.headers.emplace_back("X-Request-Id", request_id);
    respond(std::move(response));
  };
  Dispatch(match, request, std::move(answer));
}

void Router::Dispatch(const RouteMatch& match, const http::Request& request,
                      http::Responder respond) {
  std::string_view path = request.Path();
  const std::string& method = request.method;
  auto not_found = [&] {
    respond(MakeErrorResponse({Errc::kNotFound, "no route for " + method + " " + std::string(path) +
                                                    " (see docs/API.md)"}));
  };

  // The dashboard's static files hold no data (the page asks for a token for its API calls).
  if (!match.routes.empty() && match.routes.front().endpoint == Endpoint::kDashboard) {
    if (auto page = DashboardResponse(method, path)) return respond(std::move(*page));
    return not_found();
  }

  // Every call but the liveness probe needs a token once tokens are configured.
  const Principal* who = nullptr;
  if (api_config_.auth != nullptr && api_config_.auth->enabled() && path != "/healthz") {
    auto principal = api_config_.auth->Authenticate(request.Header("Authorization"));
    if (!principal) return respond(MakeErrorResponse(principal.error()));
    who = *principal;
  }
  if (match.invalid) return respond(MakeErrorResponse(*match.invalid));
  if (match.routes.empty()) return not_found();
  const Route* route = match.For(method);
  auto deny = [&](Right right, std::string_view topic) {
    auto ok = Authenticator::Authorize(who, right, topic);
    if (!ok) respond(MakeErrorResponse(ok.error()));
    return !ok;
  };

  std::optional<Task> task;
  if (match.routes.front().scope == Scope::kTask) {
    Right right = route != nullptr ? route->right : match.routes.back().right;
    if (who != nullptr || (route != nullptr && route->endpoint == Endpoint::kGetTask)) {
      auto found = TaskForCaller(engine_, who, right, *ParseTaskId(match.id));
      if (!found) return respond(MakeErrorResponse(found.error()));
      task = std::move(*found);
    }
  }
  if (route == nullptr) return respond(MethodNotAllowedResponse(method, path, match.Allow()));
  if (route->scope == Scope::kServer && deny(route->right, "")) return;
  if (route->scope == Scope::kTopic && deny(route->right, match.topic)) return;
  Serve(*route, match, task, who, request, std::move(respond));
}

void Router::Serve(const Route& route, const RouteMatch& match, const std::optional<Task>& task,
                   const Principal* who, const http::Request& request, http::Responder respond) {
  TaskId id = match.id.empty() ? 0 : ParseTaskId(match.id).value_or(0);
  switch (route.endpoint) {
    case Endpoint::kDashboard:  // Dispatch serves it, before authentication
      return respond(
          MakeErrorResponse({Errc::kNotFound, "no dashboard file " + std::string(request.Path())}));
    case Endpoint::kSeedAdd:
      return HandleSeedAdd(engine_, api_config_, who, request, std::move(respond));
    case Endpoint::kSeedPull:
      return HandleSeedPull(engine_, who, request, std::move(respond));
    case Endpoint::kHealthz:
      return respond(Json(200, R"({"status":"ok"})"));
    case Endpoint::kReadyz:
      return respond(ReadyResponse(engine_, api_config_.sinks));
    case Endpoint::kMetrics:
      return respond(http::Response{200, "text/plain; version=0.0.4",
                                    RenderMetrics(engine_, *http_metrics_, api_config_.sinks)});
    case Endpoint::kLateness:
      return respond(LatenessResponse(engine_, request.target));
    case Endpoint::kSinks:
      return respond(SinksResponse(api_config_.sinks));
    case Endpoint::kRates:
      return respond(RatesResponse(engine_, request.target));
    case Endpoint::kTopics:
      return ListTopics(engine_, "", std::move(respond));
    case Endpoint::kTopic:
      return ListTopics(engine_, match.topic, std::move(respond));
    case Endpoint::kAddTask:
      return AddTask(engine_, api_config_, match.topic, request, std::move(respond));
    case Endpoint::kAddBatch:
      return AddBatch(engine_, api_config_, match.topic, request, std::move(respond));
    case Endpoint::kPull:
      return Pull(engine_, std::string(match.topic), request, std::move(respond));
    case Endpoint::kDead:
      return ListDead(engine_, match.topic, request, std::move(respond));
    case Endpoint::kListTasks:
      return ListTasks(engine_, match.topic, request, std::move(respond));
    case Endpoint::kTopicHorizon:
      return Horizon(engine_, match.topic, request, std::move(respond));
    case Endpoint::kHorizon:
      return Horizon(engine_, "", request, std::move(respond));
    case Endpoint::kDeadRedrive:
    case Endpoint::kDeadDelete:
      return BulkDead(engine_, match.topic, route.endpoint == Endpoint::kDeadRedrive, request,
                      std::move(respond));
    case Endpoint::kPauseTopic:
    case Endpoint::kResumeTopic:
      return SetTopicPaused(engine_, match.topic, route.endpoint == Endpoint::kPauseTopic,
                            std::move(respond));
    case Endpoint::kGetTask:
      return GetTask(engine_, *task, std::move(respond));
    case Endpoint::kCancel:
      return CancelTask(engine_, id, std::move(respond));
    case Endpoint::kAck:
    case Endpoint::kNack:
      return SettleLease(engine_, api_config_, id, route.endpoint == Endpoint::kNack, request,
                         std::move(respond));
    case Endpoint::kAckBatch:
    case Endpoint::kNackBatch:
      return SettleLeases(engine_, api_config_, who, route.endpoint == Endpoint::kNackBatch,
                          request, std::move(respond));
    case Endpoint::kExtend:
      return ExtendLease(engine_, id, request, std::move(respond));
    case Endpoint::kReschedule:
      return Reschedule(engine_, api_config_, id, request, std::move(respond));
    case Endpoint::kRedrive:
      return Redrive(engine_, id, std::move(respond));
    case Endpoint::kSchedules:
      return HandleV1Schedules(engine_, api_config_, who, request, std::move(respond));
  }
}

http::Response Router::ErrorResponse(int status, std::string_view message) {
  http_metrics_->ObserveTransportError(status);
  if (api_config_.access_log) {
    spdlog::info("msg=\"transport error\" status={} error={}", status, LogValue(message));
  }
  return MakeTransportErrorResponse(status, message);
}

}  // namespace delayq::api
