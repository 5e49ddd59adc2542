#pragma once

#include <memory>
#include <optional>

#include "api/http_metrics.h"
#include "api/routes.h"
#include "api/validate.h"
#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// Routes requests by the one route table (routes.h) to the seed API, the v1 API, the
// dashboard, health probes and metrics. Implements the transport's Handler interface; holds no
// sockets. Every request gets a request id (X-Request-Id, echoed in the answer), is counted in the
// HTTP metrics and, with access_log on, logged.
class Router final : public http::Handler {
 public:
  Router(engine::Engine& engine, ApiConfig api_config)
      : engine_(engine), api_config_(api_config), http_metrics_(std::make_shared<HttpMetrics>()) {}

  void Handle(http::Request request, http::Responder respond) override;
  http::Response ErrorResponse(int status, std::string_view message) override;

 private:
  // `match` holds views into `request`'s path.
  void Dispatch(const RouteMatch& match, const http::Request& request, http::Responder respond);
  void Serve(const Route& route, const RouteMatch& match, const std::optional<Task>& task,
             const Principal* who, const http::Request& request, http::Responder respond);

  engine::Engine& engine_;
  const ApiConfig api_config_;
  // Shared with the responders in flight: an engine answering a long poll at its own
  // shutdown may call one after the router is gone.
  std::shared_ptr<HttpMetrics> http_metrics_;
};

}  // namespace delayq::api
