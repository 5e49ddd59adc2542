// Task state changes of the embedded store: leases (ack, nack, extend, settle) and changes
// of scheduled or dead tasks (cancel, reschedule, redrive), each one WriteBatch. Who may do
// what, and what a refusal says, is queue/transitions.h.

#include "queue/transitions.h"
#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

Result<Task> RocksStore::Ack(TaskId id, uint64_t lease_token, int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  auto task = LeasedTask(id, lease_token);
  if (!task) return task;
  Batch batch;
  batch.Delete(leases_cf_, TimeIdKey(task->lease_until_ms, id));
  ClearLease(&*task);
  Finish(&batch, &*task, TaskState::kDone, now_ms);
  if (auto ok = Write(unsynced_options_, &batch); !ok) return std::unexpected(ok.error());
  return task;
}

Result<Task> RocksStore::Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms,
                              std::string_view reason, int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  auto task = LeasedTask(id, lease_token);
  if (!task) return task;
  Batch batch;
  Release(&batch, &*task, retry_at_ms, reason, now_ms);
  if (auto ok = Write(unsynced_options_, &batch); !ok) return std::unexpected(ok.error());
  std::lock_guard lock(mu_);
  if (task->state == TaskState::kScheduled) ScheduleInWindow(*task);
  return task;
}

Result<Task> RocksStore::ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                                     int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  Forget(id);  // the record changes below; a later settlement reads it back
  auto task = Read(id);
  if (!task) return task;
  if (auto live = CheckExtend(*task, lease_token, now_ms); !live) {
    return std::unexpected(live.error());
  }
  Batch batch;
  batch.Delete(leases_cf_, TimeIdKey(task->lease_until_ms, id));
  task->lease_until_ms = lease_until_ms;
  batch.Put(tasks_cf_, TaskKey(id), EncodeTask(*task));
  batch.Put(leases_cf_, TimeIdKey(lease_until_ms, id), rocksdb::Slice());
  if (auto ok = Write(unsynced_options_, &batch); !ok) return std::unexpected(ok.error());
  // The old deadline stays in the timer: ExpireLeases skips it, as the record says later.
  std::lock_guard lock(mu_);
  leases_.Add(DueRef{{lease_until_ms, id}, 0});
  return task;
}

std::vector<Result<Task>> RocksStore::Settle(std::span<const Settlement> settlements,
                                             int64_t now_ms) {
  std::vector<Result<Task>> results;
  results.reserve(settlements.size());
  std::shared_lock db_lock(db_mu_);
  if (!db_) {
    for (size_t i = 0; i < settlements.size(); ++i) results.push_back(Closed());
    return results;
  }
  std::lock_guard write_lock(write_mu_);
  Batch batch;
  // A task settled earlier in this call is read from here, not from the store, which does
  // not have the change yet.
  std::unordered_map<TaskId, size_t> changed;
  for (const Settlement& settlement : settlements) {
    auto earlier = changed.find(settlement.id);
    Result<Task> task =
        CheckLease(earlier != changed.end() ? results[earlier->second]
                                            : TakenOrRead(settlement.id, settlement.lease_token),
                   settlement.lease_token);
    if (task) {
      if (settlement.ok) {
        batch.Delete(leases_cf_, TimeIdKey(task->lease_until_ms, task->id));
        ClearLease(&*task);
        Finish(&batch, &*task, TaskState::kDone, now_ms);
      } else {
        Release(&batch, &*task, settlement.retry_at_ms, settlement.reason, now_ms);
      }
      changed[settlement.id] = results.size();
    }
    results.push_back(std::move(task));
  }
  if (changed.empty()) return results;
  if (auto ok = Write(unsynced_options_, &batch); !ok) {
    for (auto& result : results) {
      if (result) result = std::unexpected(ok.error());
    }
    return results;
  }
  std::lock_guard lock(mu_);
  for (const auto& result : results) {
    if (result && result->state == TaskState::kScheduled) ScheduleInWindow(*result);
  }
  return results;
}

Result<Task> RocksStore::Cancel(TaskId id, int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  auto task = Read(id);
  if (!task) return task;
  if (task->state == TaskState::kCancelled) return task;
  if (auto ok = CheckScheduled(*task, "cancelled"); !ok) return std::unexpected(ok.error());
  Batch batch;
  batch.Delete(due_cf_, TimeIdKey(task->due_at_ms, id));
  Finish(&batch, &*task, TaskState::kCancelled, now_ms);
  // The user was told "cancelled": make it as durable as an add.
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  return task;
}

Result<Task> RocksStore::Reschedule(TaskId id, int64_t due_at_ms, int64_t /*now_ms*/) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  auto task = Read(id);
  if (!task) return task;
  if (auto ok = CheckScheduled(*task, "rescheduled"); !ok) return std::unexpected(ok.error());
  Batch batch;
  batch.Delete(due_cf_, TimeIdKey(task->due_at_ms, id));
  task->due_at_ms = due_at_ms;
  batch.Put(tasks_cf_, TaskKey(id), EncodeTask(*task));
  batch.Put(due_cf_, TimeIdKey(due_at_ms, id), DueValue(*task));
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  std::lock_guard lock(mu_);
  ScheduleInWindow(*task);  // the old hint no longer matches the record and is dropped
  return task;
}

Result<Task> RocksStore::Redrive(TaskId id, int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  auto task = Read(id);
  if (!task) return task;
  if (auto ok = CheckDead(*task); !ok) return std::unexpected(ok.error());
  Batch batch;
  Revive(&batch, &*task, now_ms);
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  std::lock_guard lock(mu_);
  ScheduleInWindow(*task);
  return task;
}

// A dead task leaves the dead and retention indexes (redriven or deleted).
void RocksStore::UnindexDead(Batch* batch, const Task& task) {
  batch->Delete(dead_cf_, DeadKey(task.topic, task.id));
  batch->Delete(finished_cf_, TimeIdKey(task.finished_at_ms, task.id));
}

// A dead task scheduled again at `now_ms` with its attempts reset (single and bulk redrive).
void RocksStore::Revive(Batch* batch, Task* task, int64_t now_ms) {
  UnindexDead(batch, *task);
  task->finished_at_ms = 0;
  task->attempts = 0;
  Schedule(batch, task, now_ms);
}

// Counter deltas are summed per batch and written as one merge per (topic, state) when
// the batch is written: a batch of 1,000 adds to one topic is one merge, not 1,000.
void RocksStore::Count(Batch* batch, std::string_view topic, TaskState state, int64_t delta) {
  batch->counts[CountKey(topic, state)] += delta;
}

void RocksStore::Transition(Batch* batch, Task* task, TaskState to) {
  Count(batch, task->topic, task->state, -1);
  Count(batch, task->topic, to, +1);
  task->state = to;
}

// Moves a task to a final state, indexed for retention (and as a dead letter), and
// writes its record.
void RocksStore::Finish(Batch* batch, Task* task, TaskState to, int64_t now_ms) {
  Transition(batch, task, to);
  task->finished_at_ms = now_ms;
  batch->Put(finished_cf_, TimeIdKey(now_ms, task->id), rocksdb::Slice());
  if (to == TaskState::kDead)
    batch->Put(dead_cf_, DeadKey(task->topic, task->id), rocksdb::Slice());
  batch->Put(tasks_cf_, TaskKey(task->id), EncodeTask(*task));
}

// Makes a task scheduled at `due_at_ms` and writes its record and due entry.
void RocksStore::Schedule(Batch* batch, Task* task, int64_t due_at_ms) {
  if (task->state != TaskState::kScheduled) Transition(batch, task, TaskState::kScheduled);
  task->due_at_ms = due_at_ms;
  batch->Put(tasks_cf_, TaskKey(task->id), EncodeTask(*task));
  batch->Put(due_cf_, TimeIdKey(due_at_ms, task->id), DueValue(*task));
}

// Ends a lease without success: due again at `retry_at_ms`, or dead if out of attempts
// (queue/transitions.h).
void RocksStore::Release(Batch* batch, Task* task, int64_t retry_at_ms, std::string_view reason,
                         int64_t now_ms) {
  batch->Delete(leases_cf_, TimeIdKey(task->lease_until_ms, task->id));
  ClearLease(task);
  task->last_error = std::string(reason);
  if (OutOfAttempts(*task)) {
    Finish(batch, task, TaskState::kDead, now_ms);
  } else {
    Schedule(batch, task, DueAgainAt(retry_at_ms, now_ms));
  }
}

void RocksStore::ClearLease(Task* task) {
  task->lease_token = 0;
  task->lease_until_ms = 0;
}

Result<Task> RocksStore::LeasedTask(TaskId id, uint64_t lease_token) {
  return CheckLease(TakenOrRead(id, lease_token), lease_token);
}

// The record as the lease's claim wrote it, when this process made that claim under
// `lease_token` (the entry is dropped: the caller is about to change the record), else read.
Result<Task> RocksStore::TakenOrRead(TaskId id, uint64_t lease_token) {
  auto it = taken_.find(id);
  if (it == taken_.end() || it->second.lease_token != lease_token) return Read(id);
  Task task = std::move(it->second);
  taken_bytes_ -= TakenBytes(task);
  taken_.erase(it);
  return task;
}

void RocksStore::Remember(const Task& task) {
  Forget(task.id);
  if (taken_bytes_ + TakenBytes(task) > kTakenBytesMax) return;
  taken_bytes_ += TakenBytes(task);
  taken_.emplace(task.id, task);
}

void RocksStore::Forget(TaskId id) {
  auto it = taken_.find(id);
  if (it == taken_.end()) return;
  taken_bytes_ -= TakenBytes(it->second);
  taken_.erase(it);
}

// `task` if it is held under `lease_token`, else kConflict (or the read's error).
Result<Task> RocksStore::CheckLease(Result<Task> task, uint64_t lease_token) {
  if (!task) return task;
  if (auto held = delayq::CheckLease(*task, lease_token); !held) {
    return std::unexpected(held.error());
  }
  return task;
}

uint64_t RocksStore::NewLeaseToken() {
  uint64_t token = 0;
  while (token == 0) token = lease_rng_();
  return token;
}

}  // namespace delayq::store::rocks
