#pragma once

#include <string_view>

#include "engine/engine.h"
#include "http/handler.h"

namespace delayq::api {

// GET /v1/topics/{topic}/tasks?state=&from_ms=&to_ms=&cursor=&limit=: a topic's tasks by due
// time (scheduled, due) or by id (dead), a page at a time (docs/API.md, "Listing tasks").
void ListTasks(engine::Engine& engine, std::string_view topic, const http::Request& request,
               http::Responder respond);

// GET /v1/topics/{topic}/horizon and GET /v1/horizon (topic ""), ?bucket=minute|hour: how many
// tasks fall due per minute over the next hour or per hour over the next 7 days.
void Horizon(engine::Engine& engine, std::string_view topic, const http::Request& request,
             http::Responder respond);

}  // namespace delayq::api
