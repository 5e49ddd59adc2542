// The near window of the embedded store: promoting due entries, taking due tasks (consume,
// claim, by id) and expiring leases.

#include <unordered_set>

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

Result<PromoteResult> RocksStore::Promote(int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  PromoteResult result;
  std::vector<uint32_t> topics;
  std::lock_guard lock(mu_);
  auto loaded = LoadWindow(now_ms);
  if (!loaded) return std::unexpected(loaded.error());
  result.promoted = window_.Promote(now_ms, kPromoteSlice, &pending_topics_);
  topics.swap(pending_topics_);
  for (uint32_t lane : topics) {
    const std::string& name = window_.TopicName(lane);
    bool callback = !name.empty() && name[0] == kCallbackLaneMark;
    std::string_view topic = callback ? std::string_view(name).substr(1) : name;
    // A paused topic's due entries wait in its ready sets; its resume wakes its consumers.
    if (PausedLocked(topic)) continue;
    (callback ? result.callback_topics_ready : result.topics_ready).emplace_back(topic);
  }
  result.leases_expired = leases_.NextDeadlineMs() <= now_ms;

  // When to look again: the next timer, the moment the window needs refilling (or, when
  // it is full and the cursor cannot move, a short retry), the next lease deadline (one
  // already passed is being handled by ExpireLeases: check back shortly, do not spin).
  int64_t refill_at = *loaded == LoadOutcome::kWindowFull
                          ? now_ms + kFullWindowRetryMs
                          : window_.cursor().due_at_ms - config_.near_window_ms / 2;
  int64_t lease_at = leases_.NextDeadlineMs();
  if (lease_at <= now_ms) lease_at = now_ms + kLeaseRecheckMs;
  result.next_wake_ms = std::min({window_.NextDeadlineMs(), refill_at, lease_at});
  if (*loaded == LoadOutcome::kMorePending || window_.NextDeadlineMs() <= now_ms) {
    result.next_wake_ms = now_ms;  // a slice limit was hit: continue right away
  }
  return result;
}

bool RocksStore::HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (PausedLocked(topic)) return false;
  window_.Promote(now_ms, kPromoteSlice, &pending_topics_);
  auto index = window_.FindTopic(LaneName(kind, topic));
  return index && window_.HasReady(*index, now_ms);
}

Result<std::vector<Task>> RocksStore::ConsumeDue(std::string_view topic, size_t max,
                                                 int64_t now_ms) {
  return TakeDue(topic, DeliveryKind::kPull, max, now_ms, /*lease_until_ms=*/0);
}

Result<std::vector<Task>> RocksStore::ClaimDue(std::string_view topic, DeliveryKind kind,
                                               size_t max, int64_t now_ms, int64_t lease_until_ms) {
  return TakeDue(topic, kind, max, now_ms, std::max<int64_t>(lease_until_ms, 1));
}

Result<Task> RocksStore::ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  auto task = Read(id);
  if (!task) return task;
  std::string name = Describe(id);
  if (task->topic != topic) return Fail(Errc::kNotFound, name + " not found in this topic");
  if (task->kind != DeliveryKind::kPull) {
    return Fail(Errc::kNotFound, name + " is a callback task and cannot be pulled");
  }
  if (task->state != TaskState::kScheduled) {
    return Fail(Errc::kNotFound,
                name + " was already consumed (" + std::string(StateName(task->state)) + ")");
  }
  if (task->due_at_ms > now_ms) {
    return Fail(Errc::kNotDue,
                name + " is not due yet (due_at_ms " + std::to_string(task->due_at_ms) + ")");
  }
  {
    std::lock_guard lock(mu_);
    if (PausedLocked(topic)) return std::unexpected(PausedRefusal(topic, id));
  }
  Batch batch;
  batch.Delete(due_cf_, TimeIdKey(task->due_at_ms, task->id));
  task->attempts += 1;
  Finish(&batch, &*task, TaskState::kDone, now_ms);
  // Its hint in the window, if any, is now stale and will be dropped when popped.
  if (auto ok = Write(unsynced_options_, &batch); !ok) return std::unexpected(ok.error());
  tasks_consumed_.fetch_add(1, std::memory_order_relaxed);
  return task;
}

Result<size_t> RocksStore::ExpireLeases(int64_t now_ms, size_t limit) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  std::vector<DueRef> expired;
  {
    std::lock_guard lock(mu_);
    leases_.PopDue(now_ms, limit, &expired);
  }
  Batch batch;
  std::vector<Task> released;
  for (const DueRef& ref : expired) {
    auto task = Read(ref.key.id);
    if (!task) {
      if (task.error().code == Errc::kNotFound) continue;
      RestoreLeases(expired);
      return std::unexpected(task.error());
    }
    // Acked, nacked or re-leased since: this deadline is stale.
    if ((task->state != TaskState::kLeased && task->state != TaskState::kDelivering) ||
        task->lease_until_ms != ref.key.due_at_ms) {
      continue;
    }
    Forget(task->id);
    Release(&batch, &*task, now_ms, "lease expired", now_ms);
    released.push_back(std::move(*task));
  }
  if (released.empty()) return size_t{0};
  if (auto ok = Write(unsynced_options_, &batch); !ok) {
    RestoreLeases(expired);
    return std::unexpected(ok.error());
  }
  std::lock_guard lock(mu_);
  for (const Task& task : released) {
    if (task.state == TaskState::kScheduled) ScheduleInWindow(task);
  }
  return released.size();
}

// Takes due tasks of one lane: pull tasks consumed (lease_until_ms == 0) or leased, or
// callback tasks marked delivering under a lease. Caller holds nothing.
Result<std::vector<Task>> RocksStore::TakeDue(std::string_view topic, DeliveryKind kind, size_t max,
                                              int64_t now_ms, int64_t lease_until_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  std::vector<Task> taken;
  std::optional<uint32_t> topic_index;
  {
    std::lock_guard lock(mu_);
    // Serve tasks that fell due since the scheduler last ran (their topics are reported
    // by the next Promote), without depending on the scheduler having loaded the window.
    if (auto loaded = LoadWindow(now_ms); !loaded) return std::unexpected(loaded.error());
    window_.Promote(now_ms, kPromoteSlice, &pending_topics_);
    // Checked under write_mu_, which SetPaused holds too: nothing is taken once it returned.
    if (PausedLocked(topic)) return taken;
    topic_index = window_.FindTopic(LaneName(kind, topic));
  }
  if (!topic_index) return taken;

  Batch batch;
  std::vector<DueRef> popped;
  std::unordered_set<TaskId> seen;
  while (taken.size() < max) {
    std::optional<DueRef> ref;
    {
      std::lock_guard lock(mu_);
      ref = window_.PopReady(*topic_index, now_ms);
    }
    if (!ref) break;
    popped.push_back(*ref);
    if (!seen.insert(ref->key.id).second) continue;  // duplicate hint
    auto task = Read(ref->key.id);
    if (!task) {
      if (task.error().code == Errc::kNotFound) continue;  // purged or never written
      RestoreReady(popped);
      return std::unexpected(task.error());
    }
    // The record is the authority: a hint for a task taken, cancelled or moved is stale.
    if (task->state != TaskState::kScheduled || task->kind != kind || task->topic != topic ||
        std::max<int64_t>(task->due_at_ms, 0) != ref->key.due_at_ms) {
      continue;
    }
    batch.Delete(due_cf_, TimeIdKey(task->due_at_ms, task->id));
    task->attempts += 1;
    if (lease_until_ms == 0) {
      Finish(&batch, &*task, TaskState::kDone, now_ms);
    } else {
      Transition(&batch, &*task,
                 kind == DeliveryKind::kPull ? TaskState::kLeased : TaskState::kDelivering);
      task->lease_token = NewLeaseToken();
      task->lease_until_ms = lease_until_ms;
      batch.Put(tasks_cf_, TaskKey(task->id), EncodeTask(*task));
      batch.Put(leases_cf_, TimeIdKey(lease_until_ms, task->id), rocksdb::Slice());
    }
    taken.push_back(std::move(*task));
  }
  if (taken.empty()) return taken;
  if (auto ok = Write(unsynced_options_, &batch); !ok) {
    RestoreReady(popped);
    return std::unexpected(ok.error());
  }
  tasks_consumed_.fetch_add(taken.size(), std::memory_order_relaxed);
  if (lease_until_ms != 0) {
    for (const Task& task : taken) Remember(task);
    std::lock_guard lock(mu_);
    for (const Task& task : taken) leases_.Add(DueRef{{task.lease_until_ms, task.id}, 0});
  }
  return taken;
}

// Reads the due index from the cursor up to now + near_window_ms (one slice at most).
// Caller holds mu_.
Result<RocksStore::LoadOutcome> RocksStore::LoadWindow(int64_t now_ms) {
  int64_t horizon = now_ms + config_.near_window_ms;
  if (window_.cursor().due_at_ms >= horizon) return LoadOutcome::kUpToDate;
  if (window_.size() >= config_.near_window_max_tasks) return LoadOutcome::kWindowFull;

  std::string lower = TimeIdKey(window_.cursor().due_at_ms, window_.cursor().id);
  std::string upper = TimeIdKey(horizon, 0);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, due_cf_));
  size_t loaded = 0;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if (loaded == kLoadSlice || window_.size() >= config_.near_window_max_tasks) {
      return loaded == kLoadSlice ? LoadOutcome::kMorePending : LoadOutcome::kWindowFull;
    }
    DueKey key = DecodeTimeIdKey(it->key());
    rocksdb::Slice value = it->value();
    if (value.size() >= 1 && static_cast<uint8_t>(value[0]) <= 1) {
      auto kind = static_cast<DeliveryKind>(value[0]);
      std::string_view topic(value.data() + 1, value.size() - 1);
      window_.Schedule(DueRef{key, window_.InternTopic(LaneName(kind, topic))});
    }
    window_.SetCursor(DueKey{key.due_at_ms, key.id + 1});
    ++loaded;
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  window_.SetCursor(DueKey{horizon, 0});
  return LoadOutcome::kUpToDate;
}

// A scheduled pull task below the loader's cursor will not be read from disk again: put
// it in memory. (A concurrent loader may have read it too; the duplicate hint is dropped
// when a consumer re-checks the record.) Caller holds mu_.
void RocksStore::ScheduleInWindow(const Task& task) {
  DueKey key{std::max<int64_t>(task.due_at_ms, 0), task.id};
  if (window_.Covers(key)) {
    window_.Schedule(DueRef{key, window_.InternTopic(LaneName(task.kind, task.topic))});
  }
}

// A failed write must not lose the in-memory hints: the tasks are still due.
void RocksStore::RestoreReady(const std::vector<DueRef>& popped) {
  std::lock_guard lock(mu_);
  for (const DueRef& ref : popped) window_.PushReady(ref);
}

void RocksStore::RestoreLeases(const std::vector<DueRef>& popped) {
  std::lock_guard lock(mu_);
  for (const DueRef& ref : popped) leases_.Add(ref);
}

}  // namespace delayq::store::rocks
