#pragma once

#include "api/validate.h"
#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// Routes requests to the seed API, health probes and metrics. Implements the transport's
// Handler interface; holds no sockets.
class Router final : public http::Handler {
 public:
  Router(engine::Engine& engine, ApiConfig limits) : engine_(engine), limits_(limits) {}

  void Handle(http::Request request, http::Responder respond) override;
  http::Response ErrorResponse(int status, std::string_view message) override;

 private:
  engine::Engine& engine_;
  const ApiConfig limits_;
};

}  // namespace delayq::api
