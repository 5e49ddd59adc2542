#pragma once

#include <cstddef>
#include <string_view>

#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// POST /v1/topics/{topic}/dead:redrive and /dead:delete with an optional {"limit": n}: the
// first n (default and at most kMaxDeadBulk) dead tasks of the topic in id order redriven
// (`redrive`) or deleted, in one store write, answered {"redriven" | "deleted": count,
// "more": whether dead tasks remain}. A client empties a large dead list by calling again
// while "more" is true; each call's cost is bounded by its limit.
inline constexpr size_t kMaxDeadBulk = 1000;
void BulkDead(engine::Engine& engine, std::string_view topic, bool redrive,
              const http::Request& request, http::Responder respond);

// GET /v1/stats/rates?seconds=N: tasks added, fired and failed per second over the last N
// seconds (default 300, at most engine::RateWindow::kSeconds), for the dashboard's chart.
http::Response RatesResponse(const engine::Engine& engine, std::string_view target);

}  // namespace delayq::api
