#pragma once

#include <optional>
#include <string_view>

#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::delivery {
class Sinks;
}

namespace delayq::api {

// The web dashboard (docs/API.md, "Dashboard"): GET / is the page, GET /ui/<file> its
// scripts and styles, compiled into the binary. Served without a token: the page holds no
// data; it asks for a token and sends it with every API call it makes.
// nullopt when `path` is not a dashboard path.
std::optional<http::Response> DashboardResponse(std::string_view method, std::string_view path);

// GET /v1/stats/lateness?seconds=N: firing lateness per second over the last N seconds
// (default 300, at most engine::LatenessWindow::kSeconds), for the dashboard's chart.
http::Response LatenessResponse(const engine::Engine& engine, std::string_view target);

// GET /v1/stats/sinks: per configured sink its state and counters, for the dashboard's
// Sinks panel; `sinks` may be null (an empty list).
http::Response SinksResponse(const delivery::Sinks* sinks);

}  // namespace delayq::api
