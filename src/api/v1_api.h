#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/validate.h"
#include "common/result.h"
#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// The native API (docs/API.md, "Native API (v1)"), one handler per route of routes.cc. The
// router has matched the route and checked the path's topic or task id, the method and the
// caller's rights. Ids are decimal strings, times unix milliseconds or RFC 3339.

// GET /v1/topics (topic "") and GET /v1/topics/{topic}.
void ListTopics(engine::Engine& engine, std::string_view topic, http::Responder respond);
// POST /v1/topics/{topic}/pause (`paused` true) and /resume: the topic object as it is then.
void SetTopicPaused(engine::Engine& engine, std::string_view topic, bool paused,
                    http::Responder respond);
void ListDead(engine::Engine& engine, std::string_view topic, const http::Request& request,
              http::Responder respond);
void AddTask(engine::Engine& engine, const ApiConfig& api_config, std::string_view topic,
             const http::Request& request, http::Responder respond);
void AddBatch(engine::Engine& engine, const ApiConfig& api_config, std::string_view topic,
              const http::Request& request, http::Responder respond);
void Pull(engine::Engine& engine, std::string topic, const http::Request& request,
          http::Responder respond);
void GetTask(const engine::Engine& engine, const Task& task, http::Responder respond);
void CancelTask(engine::Engine& engine, TaskId id, http::Responder respond);
// ack (`nack` false) or nack.
void SettleLease(engine::Engine& engine, const ApiConfig& api_config, TaskId id, bool nack,
                 const http::Request& request, http::Responder respond);
// POST /v1/tasks:ack (`nack` false) and POST /v1/tasks:nack (v1_lease_batch.cc): many leases
// ended by one request, in one store worker round; each item applied or refused on its own,
// with what the single ack or nack would answer. `who` (null: authentication is off) needs the
// consume right on each item's topic; an item refused for it gets its own error.
void SettleLeases(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
                  bool nack, const http::Request& request, http::Responder respond);
void ExtendLease(engine::Engine& engine, TaskId id, const http::Request& request,
                 http::Responder respond);
void Reschedule(engine::Engine& engine, const ApiConfig& api_config, TaskId id,
                const http::Request& request, http::Responder respond);
void Redrive(engine::Engine& engine, TaskId id, http::Responder respond);

// Decoded, validated add of one task (exposed for unit tests). `prefix` is prepended to
// field names in messages ("tasks[3].").
Result<engine::NewTask> DecodeV1Task(std::string_view topic, const boost::json::object& body,
                                     const ApiConfig& api_config, int64_t now_ms,
                                     std::string_view prefix);

// A due time from exactly one of delay_ms / at_ms / at (none: now).
Result<int64_t> DecodeDueTime(const boost::json::object& body, const ApiConfig& api_config,
                              int64_t now_ms, std::string_view prefix);

}  // namespace delayq::api
