#include "api/router.h"

#include "api/auth.h"
#include "api/dashboard.h"
#include "api/errors.h"
#include "api/metrics_text.h"
#include "api/seed_api.h"
#include "api/v1_api.h"

namespace delayq::api {

namespace {

http::Response Json(int status, std::string body) {
  return http::Response{status, "application/json", std::move(body)};
}

}  // namespace

void Router::Handle(http::Request request, http::Responder respond) {
  std::string_view path = request.Path();
  const std::string& method = request.method;

  // The dashboard's static files hold no data (the page asks for a token for its API calls).
  if (auto page = DashboardResponse(method, path)) return respond(std::move(*page));

  // Every call but the liveness probe needs a token once tokens are configured.
  const Principal* who = nullptr;
  if (limits_.auth != nullptr && limits_.auth->enabled() && path != "/healthz") {
    auto principal = limits_.auth->Authenticate(request.Header("Authorization"));
    if (!principal) return respond(MakeErrorResponse(principal.error()));
    who = *principal;
  }

  if (path == "/delay/task/add") {
    if (method != "POST") return respond(MethodNotAllowedResponse(method, path, "POST"));
    return HandleSeedAdd(engine_, limits_, who, request, std::move(respond));
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
  if (path.starts_with("/v1/")) {
    return HandleV1(engine_, limits_, who, request, std::move(respond));
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
    if (engine_.Ready()) return respond(Json(200, R"({"status":"ready"})"));
    return respond(Json(503, R"({"status":"unavailable","reason":"storage is not writable"})"));
  }
  if (path == "/metrics") {
    if (method != "GET") return respond(MethodNotAllowedResponse(method, path, "GET"));
    if (auto ok = Authenticator::Authorize(who, Right::kAdmin, ""); !ok) {
      return respond(MakeErrorResponse(ok.error()));
    }
    return respond(http::Response{200, "text/plain; version=0.0.4", RenderMetrics(engine_)});
  }
  respond(MakeErrorResponse({Errc::kNotFound, "no route for " + method + " " + std::string(path) +
                                                  " (see docs/API.md)"}));
}

http::Response Router::ErrorResponse(int status, std::string_view message) {
  return MakeTransportErrorResponse(status, message);
}

}  // namespace delayq::api
