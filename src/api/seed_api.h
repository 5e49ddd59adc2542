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

// POST /delay/task/add, decoded (docs/API.md, "Seed API").
struct SeedAdd {
  std::string topic;
  int64_t due_at_ms = 0;  // timing_moment (unix seconds) * 1000
  std::string content;
  // Seed v2: content is a JSON object with "url" (and "sn" for a path): the canonical
  // callback spec; empty for a pull task.
  std::string callback_json;
};

// POST /delay/task/pull, decoded.
struct SeedPull {
  std::string topic;
  std::optional<TaskId> task_id;  // absent or 0: the oldest due task
};

Result<SeedAdd> DecodeSeedAdd(std::string_view body, const ApiConfig& api_config, int64_t now_ms);
Result<SeedPull> DecodeSeedPull(std::string_view body);

std::string EncodeSeedAddOk(TaskId id);
// task_id 0 and content "" when nothing is due.
std::string EncodeSeedPullOk(TaskId id, std::string_view content);

// `who` is the caller's token (null when authentication is off).
void HandleSeedAdd(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
                   const http::Request& request, http::Responder respond);
void HandleSeedPull(engine::Engine& engine, const Principal* who, const http::Request& request,
                    http::Responder respond);

}  // namespace delayq::api
