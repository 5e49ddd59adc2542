#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "queue/task.h"

namespace delayq {

// The task state machine, once for every backend: who may ack, nack, extend, cancel,
// reschedule or redrive a task in which state, what a lease left without success becomes,
// and the words a refused call answers with. Pure functions of the task as read; a backend
// applies them inside its own atomic step (RocksDB under its write lock; Redis in a Lua
// script, which keeps only the check and answers a code, and the C++ side turns the task it
// returns into the same refusal here).

// Why a call on an existing task is refused; each is kConflict.
enum class Refusal {
  kLeaseNotHeld,   // ack, nack, extend: not leased/delivering, or under another token
  kNotAPullLease,  // extend: a callback's lease (delivering)
  kLeaseExpired,   // extend: the deadline has passed
  kNotScheduled,   // cancel, reschedule: already delivered or finished
  kNotDead,        // redrive
};

// The one message table: what the caller of `verb` ("cancelled", "rescheduled"; empty for
// the lease calls and redrive) is told about `task`.
Error Refuse(Refusal refusal, const Task& task, std::string_view verb = {});

Error TaskNotFound(TaskId id);

// Ack, nack and settle: the task must be leased or delivering under `lease_token`.
Result<void> CheckLease(const Task& task, uint64_t lease_token);
// Extend: as CheckLease, and only a pull lease, only before its deadline (past it the task
// may be handed out again at any moment).
Result<void> CheckExtend(const Task& task, uint64_t lease_token, int64_t now_ms);
// Cancel and reschedule: only a scheduled task (cancelling a cancelled one is no change,
// which the caller answers with the task).
Result<void> CheckScheduled(const Task& task, std::string_view verb);
// Redrive: only a dead task.
Result<void> CheckDead(const Task& task);

// A lease ends without success (nack, failed callback, expired lease): the task is dead when
// it has used its attempts (max_attempts 0: unlimited), else due again at DueAgainAt.
bool OutOfAttempts(const Task& task);
inline int64_t DueAgainAt(int64_t retry_at_ms, int64_t now_ms) {
  return retry_at_ms > now_ms ? retry_at_ms : now_ms;
}

}  // namespace delayq
