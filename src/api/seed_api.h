#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/validate.h"
#include "common/result.h"
#include "engine/engine.h"
#include "http/handler.h"
#include "queue/task.h"

namespace delayq::api {

// POST /delay/task/add, decoded. SPEC.md §2.
struct SeedAdd {
  std::string topic;
  int64_t due_at_ms = 0;  // timing_moment (unix seconds) * 1000
  std::string content;
  bool is_callback = false;  // content is a JSON object with a "url" field (seed v2)
};

// POST /delay/task/pull, decoded.
struct SeedPull {
  std::string topic;
  std::optional<TaskId> task_id;  // absent or 0: the oldest due task
};

Result<SeedAdd> DecodeSeedAdd(std::string_view body, const ApiLimits& limits, int64_t now_ms);
Result<SeedPull> DecodeSeedPull(std::string_view body);

std::string EncodeSeedAddOk(TaskId id);
// task_id 0 and content "" when nothing is due.
std::string EncodeSeedPullOk(TaskId id, std::string_view content);

void HandleSeedAdd(engine::Engine& engine, const ApiLimits& limits, const http::Request& request,
                   http::Responder respond);
void HandleSeedPull(engine::Engine& engine, const http::Request& request, http::Responder respond);

}  // namespace delayq::api
