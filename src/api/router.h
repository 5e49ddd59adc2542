#pragma once

#include <memory>

#include "api/http_metrics.h"
#include "api/validate.h"
#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// Routes requests to the seed API, health probes and metrics. Implements the transport's
// Handler interface; holds no sockets. Every request gets a request id (X-Request-Id,
// echoed in the answer), is counted in the HTTP metrics and, with access_log on, logged.
class Router final : public http::Handler {
 public:
  Router(engine::Engine& engine, ApiConfig limits)
      : engine_(engine), limits_(limits), http_metrics_(std::make_shared<HttpMetrics>()) {}

  void Handle(http::Request request, http::Responder respond) override;
  http::Response ErrorResponse(int status, std::string_view message) override;

 private:
  void Dispatch(http::Request request, http::Responder respond);

  engine::Engine& engine_;
  const ApiConfig limits_;
  // Shared with the responders in flight: an engine answering a long poll at its own
  // shutdown may call one after the router is gone.
  std::shared_ptr<HttpMetrics> http_metrics_;
};

}  // namespace delayq::api
