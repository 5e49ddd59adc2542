#pragma once

#include <string>

#include "engine/engine.h"

namespace delayq::api {

// GET /metrics: Prometheus text exposition format 0.0.4.
std::string RenderMetrics(const engine::Engine& engine);

}  // namespace delayq::api
