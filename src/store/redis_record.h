#pragma once

// Task records as the Redis store's scripts answer them: a hash's fields, or a short code.
// For redis_*.cc only.

#include <functional>
#include <string_view>

#include "common/result.h"
#include "queue/task.h"
#include "store/redis_client.h"

namespace delayq::store::redis {

Error ReplyError(const RedisReply& reply, std::string_view what);
// A task hash's fields (HGETALL order: name, value, ...).
Result<Task> DecodeFields(std::string_view topic, const RedisReply& fields);
// The check a refused call failed (queue/transitions.h), to word its refusal.
using Refusal = std::function<Result<void>(const Task&)>;
// A per-task script's answer: the task's fields, or a code.
Result<Task> TaskFromScript(std::string_view topic, TaskId id, const RedisReply& reply,
                            const Refusal& refusal = {});

}  // namespace delayq::store::redis
