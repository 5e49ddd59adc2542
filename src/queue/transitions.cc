#include "queue/transitions.h"

#include <string>

namespace delayq {

namespace {

std::string Describe(TaskId id) { return "task " + std::to_string(id); }

bool Held(const Task& task) {
  return task.state == TaskState::kLeased || task.state == TaskState::kDelivering;
}

}  // namespace

Error Refuse(Refusal refusal, const Task& task, std::string_view verb) {
  std::string name = Describe(task.id);
  std::string state(StateName(task.state));
  switch (refusal) {
    case Refusal::kLeaseNotHeld:
      return Error{Errc::kConflict,
                   "lease is stale: " + name + " is " + state +
                       (Held(task) ? " under another lease" : "") +
                       " (the lease expired, or the task was already acked or nacked)"};
    case Refusal::kNotAPullLease:
      return Error{Errc::kConflict, "lease is stale: " + name + " is " + state +
                                        " (only a pulled task's lease can be extended)"};
    case Refusal::kLeaseExpired:
      return Error{Errc::kConflict, "lease is stale: the lease of " + name + " expired at " +
                                        std::to_string(task.lease_until_ms) +
                                        " (the task may be delivered again)"};
    case Refusal::kNotScheduled:
      return Error{Errc::kConflict, name + " cannot be " + std::string(verb) + ": it is " + state +
                                        (IsFinished(task.state) ? "" : " (already delivered)")};
    case Refusal::kNotDead:
      return Error{Errc::kConflict, name + " is " + state + "; only dead tasks can be redriven"};
  }
  return Error{Errc::kConflict, name + " is " + state};
}

Error TaskNotFound(TaskId id) { return Error{Errc::kNotFound, Describe(id) + " not found"}; }

Result<void> CheckLease(const Task& task, uint64_t lease_token) {
  if (!Held(task) || task.lease_token != lease_token) {
    return std::unexpected(Refuse(Refusal::kLeaseNotHeld, task));
  }
  return {};
}

Result<void> CheckExtend(const Task& task, uint64_t lease_token, int64_t now_ms) {
  if (auto held = CheckLease(task, lease_token); !held) return held;
  if (task.state != TaskState::kLeased) {
    return std::unexpected(Refuse(Refusal::kNotAPullLease, task));
  }
  if (now_ms >= task.lease_until_ms) return std::unexpected(Refuse(Refusal::kLeaseExpired, task));
  return {};
}

Result<void> CheckScheduled(const Task& task, std::string_view verb) {
  if (task.state == TaskState::kScheduled) return {};
  return std::unexpected(Refuse(Refusal::kNotScheduled, task, verb));
}

Result<void> CheckDead(const Task& task) {
  if (task.state == TaskState::kDead) return {};
  return std::unexpected(Refuse(Refusal::kNotDead, task));
}

bool OutOfAttempts(const Task& task) {
  return task.max_attempts != 0 && task.attempts >= task.max_attempts;
}

}  // namespace delayq
