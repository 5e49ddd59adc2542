#include "store/redis_record.h"

#include "queue/transitions.h"
#include "store/redis_keys.h"
#include "store/store.h"

namespace delayq::store::redis {

using Type = RedisReply::Type;

Error ReplyError(const RedisReply& reply, std::string_view what) {
  return Error{Errc::kUnavailable, "redis: " + std::string(what) + ": " + reply.str};
}

Result<Task> DecodeFields(std::string_view topic, const RedisReply& fields) {
  if (fields.type != Type::kArray || fields.elements.empty() || fields.elements.size() % 2 != 0) {
    return Fail(Errc::kNotFound, "task not found");
  }
  Task task;
  task.topic = std::string(topic);
  bool ok = true;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    const std::string& name = fields.elements[i].str;
    const std::string& value = fields.elements[i + 1].str;
    unsigned digit = 0;
    if (name == "id") {
      ok &= ParseNumber(value, task.id);
    } else if (name == "due") {
      ok &= ParseNumber(value, task.due_at_ms);
    } else if (name == "crt") {
      ok &= ParseNumber(value, task.created_at_ms);
    } else if (name == "pl") {
      task.payload = value;
    } else if (name == "kind") {
      ok &= ParseNumber(value, digit) && digit <= 1;
      task.kind = static_cast<DeliveryKind>(digit);
    } else if (name == "st") {
      ok &= ParseNumber(value, digit) && digit <= 5;
      task.state = static_cast<TaskState>(digit);
    } else if (name == "att") {
      ok &= ParseNumber(value, task.attempts);
    } else if (name == "max") {
      ok &= ParseNumber(value, task.max_attempts);
    } else if (name == "fin") {
      ok &= ParseNumber(value, task.finished_at_ms);
    } else if (name == "tok") {
      if (!value.empty()) ok &= ParseNumber(value, task.lease_token);
    } else if (name == "lse") {
      ok &= ParseNumber(value, task.lease_until_ms);
    } else if (name == "js") {
      task.payload_is_json = value == "1";
    } else if (name == "err") {
      task.last_error = value;
    } else if (name == "dk") {
      task.dedup_key = value;
    } else if (name == "cb") {
      task.callback = value;
    } else if (name == "tp") {
      task.traceparent = value;
    } else if (name == "ts") {
      task.tracestate = value;
    }
  }
  if (!ok || task.id == 0) {
    return Fail(Errc::kInternal,
                "redis: task record in topic '" + std::string(topic) + "' is malformed");
  }
  return task;
}

// A per-task script answers the task's fields, "NF" (not found), "ND" (not due), or
// {"CF", fields}: refused, worded by `refusal` from the task as the script saw it.
Result<Task> TaskFromScript(std::string_view topic, TaskId id, const RedisReply& reply,
                            const Refusal& refusal) {
  if (reply.IsError()) return std::unexpected(ReplyError(reply, "script failed"));
  if (reply.type == Type::kString) {
    if (reply.str == "NF") return std::unexpected(TaskNotFound(id));
    if (reply.str == "ND")
      return Fail(Errc::kNotDue, "task " + std::to_string(id) + " is not due yet");
    if (reply.str == "PA") return std::unexpected(PausedRefusal(topic, id));
  }
  if (reply.type == Type::kArray && reply.elements.size() == 2 &&
      reply.elements[0].type == Type::kString && reply.elements[0].str == "CF") {
    auto task = DecodeFields(topic, reply.elements[1]);
    if (!task) return task;
    if (refusal) {
      if (auto allowed = refusal(*task); !allowed) return std::unexpected(allowed.error());
    }
    // The script refused what the rules here allow: say so rather than guess the words.
    return Fail(Errc::kConflict, "task " + std::to_string(id) + " is " +
                                     std::string(StateName(task->state)) +
                                     "; the store refused the change");
  }
  return DecodeFields(topic, reply);
}

}  // namespace delayq::store::redis
