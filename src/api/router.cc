#include "api/router.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>

#include "api/auth.h"
#include "api/dashboard.h"
#include "api/errors.h"
#include "api/metrics_text.h"
#include "api/request_id.h"
#include "api/route_pattern.h"
#include "api/seed_api.h"
#include "api/v1_api.h"
#include "common/logfmt.h"
#include "delivery/sink.h"

namespace delayq::api {

namespace {

http::Response Json(int status, std::string body) {
  return http::Response{status, "application/json", std::move(body)};
}

// How much of a failed answer's body goes into its log line.
constexpr size_t kLoggedErrorBytes = 256;

}  // namespace

void Router::Handle(http::Request request, http::Responder respond) {
  auto started = std::chrono::steady_clock::now();
  std::string request_id = RequestIdFor(request.Header("X-Request-Id"));
  std::string_view route = RoutePattern(request.Path());
  std::string_view method = MethodLabel(request.method);
  // What the log line needs, taken before the request is moved into the handler.
  std::string path(request.Path());
  std::string remote = request.remote;
  size_t bytes_in = request.body.size();
  auto answer = [metrics = http_metrics_, access_log = api_config_.access_log, started, route,
                 method, request_id, path = std::move(path), remote = std::move(remote), bytes_in,
                 respond = std::move(respond)](http::Response response) {
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
  Dispatch(std::move(request), std::move(answer));
}

void Router::Dispatch(http::Request request, http::Responder respond) {
  std::string_view path = request.Path();
  const std::string& method = request.method;

  // The dashboard's static files hold no data (the page asks for a token for its API calls).
  if (auto page = DashboardResponse(method, path)) return respond(std::move(*page));

  // Every call but the liveness probe needs a token once tokens are configured.
  const Principal* who = nullptr;
  if (api_config_.auth != nullptr && api_config_.auth->enabled() && path != "/healthz") {
    auto principal = api_config_.auth->Authenticate(request.Header("Authorization"));
    if (!principal) return respond(MakeErrorResponse(principal.error()));
    who = *principal;
  }

  if (path == "/delay/task/add") {
    if (method != "POST") return respond(MethodNotAllowedResponse(method, path, "POST"));
    return HandleSeedAdd(engine_, api_config_, who, request, std::move(respond));
  }
  if (path == "/delay/task/pull") {
    if (method != "POST") return respond(MethodNotAllowedResponse(method, path, "POST"));
    return HandleSeedPull(engine_, who, request, std::move(respond));
  }
  if (path == "/v1/stats/lateness") {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, path, "GET"));
    if (auto ok = Authenticator::Authorize(who, Right::kAdmin, ""); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    return respond(LatenessResponse(engine_, request.target));
  }
  if (path == "/v1/stats/sinks") {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, path, "GET"));
    if (auto ok = Authenticator::Authorize(who, Right::kAdmin, ""); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    return respond(SinksResponse(api_config_.sinks));
  }
  if (path.starts_with("/v1/")) {
    return HandleV1(engine_, api_config_, who, request, std::move(respond));
  }
  if (path == "/healthz") {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, path, "GET"));
    return respond(Json(200, R"({"status":"ok"})"));
  }
  if (path == "/readyz") {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, path, "GET"));
    if (auto ok = Authenticator::Authorize(who, Right::kAdmin, ""); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    // A sink that cannot reach its servers leaves the server ready (adds are stored; due
    // tasks of that sink wait in retry) but is named here (docs/OPERATIONS.md, "Sinks").
    boost::json::object sinks;
    if (api_config_.sinks != nullptr) {
      for (delivery::SinkKind kind :
           {delivery::SinkKind::kKafka, delivery::SinkKind::kRedisStream}) {
        const delivery::Sink* sink = api_config_.sinks->Find(kind);
        if (sink == nullptr) continue;
        std::string problem = sink->Problem();
        boost::json::object state{{"status", problem.empty() ? "available" : "unavailable"}};
        if (!problem.empty()) state["reason"] = problem;
        sinks[delivery::SinkKindName(kind)] = std::move(state);
      }
    }
    if (engine_.Ready()) {
      boost::json::object body{{"status", "ready"}};
      if (!sinks.empty()) body["sinks"] = std::move(sinks);
      return respond(Json(200, boost::json::serialize(body)));
    }
    std::string problem = engine_.StoreProblem();
    boost::json::object body{{"status", "unavailable"},
                             {"reason", problem.empty() ? "storage is not writable" : problem}};
    if (!sinks.empty()) body["sinks"] = std::move(sinks);
    return respond(Json(503, boost::json::serialize(body)));
  }
  if (path == "/metrics") {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, path, "GET"));
    if (auto ok = Authenticator::Authorize(who, Right::kAdmin, ""); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    return respond(http::Response{200, "text/plain; version=0.0.4",
                                  RenderMetrics(engine_, *http_metrics_, api_config_.sinks)});
  }
  respond(MakeErrorResponse({Errc::kNotFound, "no route for " + method + " " + std::string(path) +
                                                  " (see docs/API.md)"}));
}

http::Response Router::ErrorResponse(int status, std::string_view message) {
  http_metrics_->ObserveTransportError(status);
  if (api_config_.access_log) {
    spdlog::info("msg=\"transport error\" status={} error={}", status, LogValue(message));
  }
  return MakeTransportErrorResponse(status, message);
}

}  // namespace delayq::api
