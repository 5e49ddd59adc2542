#pragma once

#include <string>

#include "api/http_metrics.h"
#include "engine/engine.h"

namespace delayq::delivery {
class Sinks;
}

namespace delayq::api {

// GET /metrics: Prometheus text exposition format 0.0.4. Reads the per-state task counts
// from the store (one short scan of its count keys).
// `sinks` (may be null): their series, one per configured sink.
std::string RenderMetrics(engine::Engine& engine, const HttpMetrics& http,
                          const delivery::Sinks* sinks = nullptr);

}  // namespace delayq::api
