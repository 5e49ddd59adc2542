#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/validate.h"
#include "common/result.h"
#include "engine/engine.h"
#include "http/handler.h"
#include "schedule/schedule.h"

namespace delayq::api {

struct Principal;

// /v1/schedules[/{name}[/pause|resume|trigger]] (docs/API.md, "Schedules"): every route of
// routes.cc with Endpoint::kSchedules. It checks the rights itself (they depend on the body's
// or the stored schedule's topic).
void HandleV1Schedules(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
                       const http::Request& request, http::Responder respond);

// A PUT body, validated: every error names its field (exposed for unit tests).
Result<schedule::Definition> DecodeScheduleDefinition(const boost::json::object& body,
                                                      const ApiConfig& api_config, int64_t now_ms);

// The schedule object: the definition, "next_ms" (the next 5 fire times), the last occurrence.
boost::json::object ScheduleJson(const engine::ScheduleInfo& schedule, int64_t now_ms);

// A task made by a schedule names it and its occurrence ("schedule", "occurrence_ms"), read
// from its dedup key; other tasks get nothing.
void AddOccurrenceFields(boost::json::object& task_json, const std::string& dedup_key);

// Dedup keys of adds may not look like an occurrence's identity.
Result<void> CheckUserDedupKey(std::string_view key, const std::string& field);

}  // namespace delayq::api
