#pragma once

#include <string>

#include "api/http_metrics.h"
#include "engine/engine.h"

namespace delayq::api {

// GET /metrics: Prometheus text exposition format 0.0.4. Reads the per-state task counts
// from the store (one short scan of its count keys).
std::string RenderMetrics(engine::Engine& engine, const HttpMetrics& http);

}  // namespace delayq::api
