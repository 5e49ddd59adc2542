#pragma once

#include "api/auth.h"
#include "common/result.h"
#include "engine/engine.h"
#include "queue/task.h"

namespace delayq::api {

// The task `id` if `who` may do `right` on its topic (`who` null: authentication is off).
// A topic token learns nothing about other topics' tasks: one not among its topics is refused
// exactly as an unknown id is (kNotFound, "task N not found"), not kForbidden. Reads the task
// (Engine::Get); the per-task routes and each item of a batch acknowledgement ask this.
Result<Task> TaskForCaller(engine::Engine& engine, const Principal* who, Right right, TaskId id);

}  // namespace delayq::api
