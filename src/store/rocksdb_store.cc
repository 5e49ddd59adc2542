#include "store/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "queue/near_window.h"
#include "store/record_codec.h"
#include "store/rocksdb_keys.h"
#include "store/rocksdb_options.h"

namespace delayq::store {
namespace rocks {
namespace {

// --- Tunables -------------------------------------------------------------------------------
// The loader reads the due index in slices so that the window mutex is never held long
// (4,096 entries ≈ 1-2 ms); the scheduler calls again at once while more is pending.
constexpr size_t kLoadSlice = 4096;
// Promote moves at most this many entries per call for the same reason.
constexpr size_t kPromoteSlice = 65536;
// When the window is full (consumers far behind), look again this often.
constexpr int64_t kFullWindowRetryMs = 100;
// A passed lease deadline is handled by a queued ExpireLeases; look again this much later.
constexpr int64_t kLeaseRecheckMs = 20;

std::string Describe(TaskId id) { return "task " + std::to_string(id); }

// The near window keeps one ready set per lane: a topic's pull tasks and its callback
// tasks wait apart, so that a pull consumer never takes a callback task's hint and the
// dispatcher claims callbacks topic by topic. A callback lane is the topic name behind a
// \x01 byte, which topic names cannot contain.
constexpr char kCallbackLaneMark = '\x01';

std::string LaneName(DeliveryKind kind, std::string_view topic) {
  if (kind == DeliveryKind::kPull) return std::string(topic);
  std::string lane(1, kCallbackLaneMark);
  lane.append(topic);
  return lane;
}

// A write batch that also collects the state-counter deltas of its changes (see Count).
// Per-task merge operands on one hot counter key filled the memtables and were held in
// memory at once when merged (BENCHMARKS.md, backlog profile).
struct Batch : rocksdb::WriteBatch {
  std::unordered_map<std::string, int64_t> counts;
};

std::string MiB(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

class RocksStore final : public Store {
 public:
  RocksStore(const StoreConfig& config, OpenPlan plan, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : config_(config), plan_(std::move(plan)), lease_rng_(std::random_device{}()) {
    Attach(std::move(db), std::move(handles));
    durable_options_.sync = config.durability == Durability::kFsync;
    unsynced_options_.sync = false;
  }

  ~RocksStore() override { Detach(); }

  // Leases survive restarts: every lease still open is tracked again (a lease that ran out
  // while the process was down expires at the first Promote).
  Result<void> LoadLeases() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), leases_cf_));
    std::lock_guard lock(mu_);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      leases_.Add(DueRef{DecodeTimeIdKey(it->key()), 0});
    }
    if (!it->status().ok()) return ReadFailed(it->status());
    return {};
  }

  // --- Adding ---------------------------------------------------------------------------------

  Result<std::vector<TaskId>> Add(std::span<const Task> tasks) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::lock_guard write_lock(write_mu_);
    Batch batch;
    std::vector<TaskId> stored;
    stored.reserve(tasks.size());
    std::unordered_map<std::string, TaskId> dedup_in_call;
    std::vector<const Task*> written;
    written.reserve(tasks.size());
    for (const Task& task : tasks) {
      if (!task.dedup_key.empty()) {
        std::string key = TopicKey(task.topic, task.dedup_key);
        if (auto it = dedup_in_call.find(key); it != dedup_in_call.end()) {
          stored.push_back(it->second);
          continue;
        }
        auto existing = FindDedup(key);
        if (!existing) return std::unexpected(existing.error());
        if (*existing != 0) {
          stored.push_back(*existing);
          continue;
        }
        std::string id_bytes;
        PutBigEndian(&id_bytes, task.id);
        batch.Put(dedup_cf_, key, id_bytes);
        dedup_in_call.emplace(std::move(key), task.id);
      }
      batch.Put(tasks_cf_, TaskKey(task.id), EncodeTask(task));
      batch.Put(due_cf_, TimeIdKey(task.due_at_ms, task.id), DueValue(task));
      Count(&batch, task.topic, TaskState::kScheduled, +1);
      stored.push_back(task.id);
      written.push_back(&task);
    }
    if (written.empty()) return stored;
    if (auto room = CheckFreeSpace(); !room) return std::unexpected(room.error());
    if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
    add_batches_.fetch_add(1, std::memory_order_relaxed);
    if (durable_options_.sync) synced_batches_.fetch_add(1, std::memory_order_relaxed);
    tasks_added_.fetch_add(written.size(), std::memory_order_relaxed);

    std::lock_guard lock(mu_);
    for (const Task* task : written) ScheduleInWindow(*task);
    return stored;
  }

  Result<Task> Get(TaskId id) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    return Read(id);
  }

  // Caller holds db_mu_ (shared) with the database open.
  Result<Task> Read(TaskId id) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), tasks_cf_, TaskKey(id), &value);
    if (s.IsNotFound()) return Fail(Errc::kNotFound, Describe(id) + " not found");
    if (!s.ok()) return ReadFailed(s);
    return DecodeTask(value);
  }

  // --- Time -----------------------------------------------------------------------------------

  Result<PromoteResult> Promote(int64_t now_ms) override {
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
      if (!name.empty() && name[0] == kCallbackLaneMark) {
        result.callback_topics_ready.push_back(name.substr(1));
      } else {
        result.topics_ready.push_back(name);
      }
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

  bool HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    window_.Promote(now_ms, kPromoteSlice, &pending_topics_);
    auto index = window_.FindTopic(LaneName(kind, topic));
    return index && window_.HasReady(*index, now_ms);
  }

  // --- Taking due tasks -------------------------------------------------------------------------

  Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max,
                                       int64_t now_ms) override {
    return TakeDue(topic, DeliveryKind::kPull, max, now_ms, /*lease_until_ms=*/0);
  }

  Result<std::vector<Task>> ClaimDue(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms) override {
    return TakeDue(topic, kind, max, now_ms, std::max<int64_t>(lease_until_ms, 1));
  }

  Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) override {
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
    Batch batch;
    batch.Delete(due_cf_, TimeIdKey(task->due_at_ms, task->id));
    task->attempts += 1;
    Finish(&batch, &*task, TaskState::kDone, now_ms);
    // Its hint in the window, if any, is now stale and will be dropped when popped.
    if (auto ok = Write(unsynced_options_, &batch); !ok) return std::unexpected(ok.error());
    tasks_consumed_.fetch_add(1, std::memory_order_relaxed);
    return task;
  }

  // --- Leases ---------------------------------------------------------------------------------

  Result<Task> Ack(TaskId id, uint64_t lease_token, int64_t now_ms) override {
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

  Result<Task> Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms, std::string_view reason,
                    int64_t now_ms) override {
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

  Result<Task> ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                           int64_t now_ms) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::lock_guard write_lock(write_mu_);
    auto task = LeasedTask(id, lease_token);
    if (!task) return task;
    if (auto live = RequireLive(*task, now_ms); !live) return std::unexpected(live.error());
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

  std::vector<Result<Task>> Settle(std::span<const Settlement> settlements,
                                   int64_t now_ms) override {
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
          CheckLease(earlier != changed.end() ? results[earlier->second] : Read(settlement.id),
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

  Result<size_t> ExpireLeases(int64_t now_ms, size_t limit) override {
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

  // --- Changing scheduled tasks -----------------------------------------------------------------

  Result<Task> Cancel(TaskId id, int64_t now_ms) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::lock_guard write_lock(write_mu_);
    auto task = Read(id);
    if (!task) return task;
    if (task->state == TaskState::kCancelled) return task;
    if (auto ok = RequireScheduled(*task, "cancelled"); !ok) return std::unexpected(ok.error());
    Batch batch;
    batch.Delete(due_cf_, TimeIdKey(task->due_at_ms, id));
    Finish(&batch, &*task, TaskState::kCancelled, now_ms);
    // The user was told "cancelled": make it as durable as an add.
    if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
    return task;
  }

  Result<Task> Reschedule(TaskId id, int64_t due_at_ms, int64_t /*now_ms*/) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::lock_guard write_lock(write_mu_);
    auto task = Read(id);
    if (!task) return task;
    if (auto ok = RequireScheduled(*task, "rescheduled"); !ok) return std::unexpected(ok.error());
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

  Result<Task> Redrive(TaskId id, int64_t now_ms) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::lock_guard write_lock(write_mu_);
    auto task = Read(id);
    if (!task) return task;
    if (task->state != TaskState::kDead) {
      return Fail(Errc::kConflict, Describe(id) + " is " + std::string(StateName(task->state)) +
                                       "; only dead tasks can be redriven");
    }
    Batch batch;
    batch.Delete(dead_cf_, DeadKey(task->topic, id));
    batch.Delete(finished_cf_, TimeIdKey(task->finished_at_ms, id));
    task->finished_at_ms = 0;
    task->attempts = 0;
    Schedule(&batch, &*task, now_ms);
    if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
    std::lock_guard lock(mu_);
    ScheduleInWindow(*task);
    return task;
  }

  // --- Reading --------------------------------------------------------------------------------

  Result<std::vector<Task>> ListDead(std::string_view topic, TaskId after_id,
                                     size_t limit) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::vector<Task> dead;
    std::string prefix = TopicKey(topic, "");
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), dead_cf_));
    for (it->Seek(DeadKey(topic, after_id + 1)); it->Valid() && dead.size() < limit; it->Next()) {
      if (!it->key().starts_with(prefix)) break;
      auto task = Read(GetBigEndian(it->key().data() + prefix.size()));
      if (task) dead.push_back(std::move(*task));
    }
    if (!it->status().ok()) return ReadFailed(it->status());
    return dead;
  }

  Result<std::vector<TopicStats>> Topics(std::string_view topic, int64_t now_ms) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::vector<TopicStats> stats;
    std::string prefix(1, kCountPrefix);
    if (!topic.empty()) prefix.append(topic).push_back('\0');
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      rocksdb::Slice key = it->key();
      std::string_view name(key.data() + 1, key.size() - 3);  // "n" topic \0 state
      auto state = static_cast<uint8_t>(key[key.size() - 1]);
      if (stats.empty() || stats.back().topic != name)
        stats.push_back(TopicStats{std::string(name)});
      if (state < stats.back().by_state.size())
        stats.back().by_state[state] = DecodeInt64(it->value());
    }
    if (!it->status().ok()) return ReadFailed(it->status());
    std::lock_guard lock(mu_);
    for (TopicStats& s : stats) {
      for (DeliveryKind kind : {DeliveryKind::kPull, DeliveryKind::kCallback}) {
        auto index = window_.FindTopic(LaneName(kind, s.topic));
        if (!index) continue;
        s.due_waiting += window_.ReadyCount(*index);
        if (const DueRef* oldest = window_.PeekReady(*index)) {
          s.oldest_due_lateness_ms =
              std::max<int64_t>(s.oldest_due_lateness_ms, now_ms - oldest->key.due_at_ms);
        }
      }
    }
    return stats;
  }

  // --- Housekeeping ---------------------------------------------------------------------------

  Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::lock_guard write_lock(write_mu_);
    std::string upper = TimeIdKey(finished_before_ms, 0);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, finished_cf_));
    Batch batch;
    size_t purged = 0;
    for (it->SeekToFirst(); it->Valid() && purged < limit; it->Next()) {
      DueKey key = DecodeTimeIdKey(it->key());
      auto task = Read(key.id);
      if (!task && task.error().code != Errc::kNotFound) {
        // Unreadable: keep both entry and record, and stop; an operator must look.
        return std::unexpected(task.error());
      }
      batch.Delete(finished_cf_, it->key());
      ++purged;
      if (!task) continue;  // index entry without a record: drop the entry
      batch.Delete(tasks_cf_, TaskKey(key.id));
      Count(&batch, task->topic, task->state, -1);
      if (task->state == TaskState::kDead) batch.Delete(dead_cf_, DeadKey(task->topic, key.id));
      if (!task->dedup_key.empty()) {
        std::string dedup = TopicKey(task->topic, task->dedup_key);
        auto owner = FindDedupEntry(dedup);
        if (owner && *owner == key.id) batch.Delete(dedup_cf_, dedup);
      }
    }
    if (!it->status().ok()) return ReadFailed(it->status());
    if (purged == 0) return size_t{0};
    if (auto ok = Write(unsynced_options_, &batch); !ok) return std::unexpected(ok.error());
    tasks_purged_.fetch_add(purged, std::memory_order_relaxed);
    return purged;
  }

  Result<TaskId> MaxTaskId() override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), tasks_cf_));
    it->SeekToLast();
    if (!it->status().ok()) return ReadFailed(it->status());
    return it->Valid() ? GetBigEndian(it->key().data()) : TaskId{0};
  }

  Result<void> Sync() override {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Closed();
    // After a failed log write RocksDB's log writer is in an error state, and syncing it
    // again trips an assertion in Debian's librocksdb (built with assertions): the process
    // would abort at shutdown. What was acknowledged is durable already (fsync mode) or in
    // the page cache (buffered); what failed was never acknowledged.
    if (!healthy_.load() || plan_.listener->stopped()) {
      return Fail(Errc::kUnavailable,
                  "storage sync skipped: the store has a write error (" + HealthProblem() + ")");
    }
    rocksdb::Status s = db_->SyncWAL();
    if (!s.ok()) return Fail(Errc::kUnavailable, "storage sync failed: " + s.ToString());
    return {};
  }

  bool Healthy() override {
    if (healthy_.load() && !plan_.listener->stopped() && !disk_low_.load()) return true;
    // Nothing else may write again (a drained instance gets no traffic), so each call
    // tries to recover; one at a time, the others answer "not yet".
    std::unique_lock recovering(recover_mu_, std::try_to_lock);
    if (!recovering.owns_lock()) return false;
    if (disk_low_.load() && !CheckFreeSpace()) return false;
    if (plan_.listener->stopped() && !Resume()) return false;
    std::shared_lock db_lock(db_mu_);
    if (!db_) return false;
    if (!healthy_.load()) {
      Batch probe;
      probe.Put(meta_cf_, "probe", EncodeInt64(0));
      if (!Write(unsynced_options_, &probe)) return false;
    }
    return !plan_.listener->stopped();
  }

  std::string HealthProblem() override {
    std::lock_guard lock(problem_mu_);
    return problem_;
  }

  StoreStats Stats() const override {
    StoreStats stats;
    stats.add_batches = add_batches_.load(std::memory_order_relaxed);
    stats.synced_batches = synced_batches_.load(std::memory_order_relaxed);
    stats.tasks_added = tasks_added_.load(std::memory_order_relaxed);
    stats.tasks_consumed = tasks_consumed_.load(std::memory_order_relaxed);
    stats.tasks_purged = tasks_purged_.load(std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    stats.window_scheduled = window_.scheduled_count();
    stats.window_ready = window_.ready_count();
    stats.leases_tracked = leases_.size();
    return stats;
  }

 private:
  enum class LoadOutcome { kUpToDate, kMorePending, kWindowFull };

  // Takes due tasks of one lane: pull tasks consumed (lease_until_ms == 0) or leased, or
  // callback tasks marked delivering under a lease. Caller holds nothing.
  Result<std::vector<Task>> TakeDue(std::string_view topic, DeliveryKind kind, size_t max,
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
      std::lock_guard lock(mu_);
      for (const Task& task : taken) leases_.Add(DueRef{{task.lease_until_ms, task.id}, 0});
    }
    return taken;
  }

  // Reads the due index from the cursor up to now + near_window_ms (one slice at most).
  // Caller holds mu_.
  Result<LoadOutcome> LoadWindow(int64_t now_ms) {
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
  void ScheduleInWindow(const Task& task) {
    DueKey key{std::max<int64_t>(task.due_at_ms, 0), task.id};
    if (window_.Covers(key)) {
      window_.Schedule(DueRef{key, window_.InternTopic(LaneName(task.kind, task.topic))});
    }
  }

  // Counter deltas are summed per batch and written as one merge per (topic, state) when
  // the batch is written: a batch of 1,000 adds to one topic is one merge, not 1,000.
  void Count(Batch* batch, std::string_view topic, TaskState state, int64_t delta) {
    batch->counts[CountKey(topic, state)] += delta;
  }

  void Transition(Batch* batch, Task* task, TaskState to) {
    Count(batch, task->topic, task->state, -1);
    Count(batch, task->topic, to, +1);
    task->state = to;
  }

  // Moves a task to a final state, indexed for retention (and as a dead letter), and
  // writes its record.
  void Finish(Batch* batch, Task* task, TaskState to, int64_t now_ms) {
    Transition(batch, task, to);
    task->finished_at_ms = now_ms;
    batch->Put(finished_cf_, TimeIdKey(now_ms, task->id), rocksdb::Slice());
    if (to == TaskState::kDead)
      batch->Put(dead_cf_, DeadKey(task->topic, task->id), rocksdb::Slice());
    batch->Put(tasks_cf_, TaskKey(task->id), EncodeTask(*task));
  }

  // Makes a task scheduled at `due_at_ms` and writes its record and due entry.
  void Schedule(Batch* batch, Task* task, int64_t due_at_ms) {
    if (task->state != TaskState::kScheduled) Transition(batch, task, TaskState::kScheduled);
    task->due_at_ms = due_at_ms;
    batch->Put(tasks_cf_, TaskKey(task->id), EncodeTask(*task));
    batch->Put(due_cf_, TimeIdKey(due_at_ms, task->id), DueValue(*task));
  }

  // Ends a lease without success: due again at `retry_at_ms`, or dead if out of attempts.
  void Release(Batch* batch, Task* task, int64_t retry_at_ms, std::string_view reason,
               int64_t now_ms) {
    batch->Delete(leases_cf_, TimeIdKey(task->lease_until_ms, task->id));
    ClearLease(task);
    task->last_error = std::string(reason);
    if (task->max_attempts != 0 && task->attempts >= task->max_attempts) {
      Finish(batch, task, TaskState::kDead, now_ms);
    } else {
      Schedule(batch, task, std::max(retry_at_ms, now_ms));
    }
  }

  static void ClearLease(Task* task) {
    task->lease_token = 0;
    task->lease_until_ms = 0;
  }

  Result<Task> LeasedTask(TaskId id, uint64_t lease_token) {
    return CheckLease(Read(id), lease_token);
  }

  // `task` if it is held under `lease_token`, else kConflict (or the read's error).
  Result<Task> CheckLease(Result<Task> task, uint64_t lease_token) {
    if (!task) return task;
    TaskId id = task->id;
    bool held = task->state == TaskState::kLeased || task->state == TaskState::kDelivering;
    if (!held || task->lease_token != lease_token) {
      return Fail(Errc::kConflict,
                  "lease is stale: " + Describe(id) + " is " + std::string(StateName(task->state)) +
                      (held ? " under another lease" : "") +
                      " (the lease expired, or the task was already acked or nacked)");
    }
    return task;
  }

  // Only a pull lease is extended (a callback's is never shown), and only before its
  // deadline: past it the task may be handed out again at any moment.
  Result<void> RequireLive(const Task& task, int64_t now_ms) {
    if (task.state != TaskState::kLeased) {
      return Fail(Errc::kConflict, "lease is stale: " + Describe(task.id) + " is " +
                                       std::string(StateName(task.state)) +
                                       " (only a pulled task's lease can be extended)");
    }
    if (now_ms >= task.lease_until_ms) {
      return Fail(Errc::kConflict, "lease is stale: the lease of " + Describe(task.id) +
                                       " expired at " + std::to_string(task.lease_until_ms) +
                                       " (the task may be delivered again)");
    }
    return {};
  }

  Result<void> RequireScheduled(const Task& task, std::string_view verb) {
    if (task.state == TaskState::kScheduled) return {};
    return Fail(Errc::kConflict, Describe(task.id) + " cannot be " + std::string(verb) +
                                     ": it is " + std::string(StateName(task.state)) +
                                     (IsFinished(task.state) ? "" : " (already delivered)"));
  }

  uint64_t NewLeaseToken() {
    uint64_t token = 0;
    while (token == 0) token = lease_rng_();
    return token;
  }

  // The id a dedup key points to, 0 when free (never set, or its task was purged).
  Result<TaskId> FindDedup(const std::string& key) {
    auto owner = FindDedupEntry(key);
    if (!owner || *owner == 0) return owner;
    auto task = Read(*owner);
    if (!task)
      return task.error().code == Errc::kNotFound ? Result<TaskId>(0)
                                                  : std::unexpected(task.error());
    return *owner;
  }

  Result<TaskId> FindDedupEntry(const std::string& key) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), dedup_cf_, key, &value);
    if (s.IsNotFound()) return TaskId{0};
    if (!s.ok()) return ReadFailed(s);
    return value.size() == 8 ? GetBigEndian(value.data()) : TaskId{0};
  }

  // A failed write must not lose the in-memory hints: the tasks are still due.
  void RestoreReady(const std::vector<DueRef>& popped) {
    std::lock_guard lock(mu_);
    for (const DueRef& ref : popped) window_.PushReady(ref);
  }

  void RestoreLeases(const std::vector<DueRef>& popped) {
    std::lock_guard lock(mu_);
    for (const DueRef& ref : popped) leases_.Add(ref);
  }

  std::unexpected<Error> ReadFailed(const rocksdb::Status& s) {
    return Fail(Errc::kUnavailable, "storage read failed: " + s.ToString());
  }

  Result<void> Write(const rocksdb::WriteOptions& options, Batch* batch) {
    for (const auto& [key, delta] : batch->counts) {
      if (delta != 0) batch->Merge(meta_cf_, key, EncodeInt64(delta));
    }
    batch->counts.clear();
    rocksdb::Status s = db_->Write(options, batch);
    if (!s.ok()) {
      healthy_.store(false);
      std::string message = WriteFailure(s);
      SetProblem(message);
      return Fail(Errc::kUnavailable, std::move(message));
    }
    healthy_.store(true);
    return {};
  }

  // What a client is told when a write fails. Whatever RocksDB reports (its background
  // error once it has stopped writes), a full disk is named as such, with what to do.
  std::string WriteFailure(const rocksdb::Status& s) const {
    if (IsNoSpace(s)) {
      return "disk full: storage write failed (" + s.ToString() +
             "); free space on the filesystem of data_dir '" + config_.data_dir +
             "', delayq resumes by itself";
    }
    return "storage write failed: " + s.ToString() + " (check the disk of data_dir '" +
           config_.data_dir + "'; delayq reopens the store by itself once it can)";
  }

  void SetProblem(std::string problem) {
    std::lock_guard lock(problem_mu_);
    problem_ = std::move(problem);
  }

  // Adds stop while the filesystem has less free space than the reserve, so that what is
  // left lets deliveries be recorded and RocksDB flush (StoreConfig::min_free_disk_bytes).
  // One statvfs per add round: about a microsecond.
  Result<void> CheckFreeSpace() {
    if (config_.min_free_disk_bytes == 0) return {};
    struct statvfs fs {};
    if (statvfs(config_.data_dir.c_str(), &fs) != 0) return {};  // unknown: let RocksDB try
    uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    uint64_t reserve = std::min<uint64_t>(config_.min_free_disk_bytes,
                                          static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize / 10);
    if (free_bytes >= reserve) {
      if (disk_low_.exchange(false) && healthy_.load()) SetProblem("");
      return {};
    }
    std::string message = "disk full: the filesystem of data_dir '" + config_.data_dir + "' has " +
                          MiB(free_bytes) + " free, less than the " + MiB(reserve) +
                          " kept for deliveries (limits.min_free_disk); free space there, "
                          "adds resume by themselves";
    disk_low_.store(true);
    SetProblem(message);
    return Fail(Errc::kUnavailable, std::move(message));
  }

  // Clears a background error: RocksDB's own Resume first (it flushes the memtables and
  // starts a new log); when RocksDB cannot resume (an I/O error it treats as fatal, such as
  // a failed fsync of the log), the database is closed and opened again, which replays the
  // log as a restart would. Caller holds recover_mu_ and nothing else.
  bool Resume() {
    rocksdb::Status resumed;
    {
      std::shared_lock db_lock(db_mu_);
      if (!db_) return Reopen(db_lock);
      resumed = db_->Resume();
    }
    if (resumed.ok()) {
      plan_.listener->Clear();
      return true;
    }
    if (resumed.IsBusy()) return false;  // RocksDB's own recovery is running
    if (IsNoSpace(resumed) && resumed.severity() < rocksdb::Status::Severity::kFatalError) {
      return false;  // still full: RocksDB resumes once there is room
    }
    std::shared_lock<std::shared_mutex> none;
    return Reopen(none);
  }

  // `held` is released first if it holds db_mu_.
  bool Reopen(std::shared_lock<std::shared_mutex>& held) {
    if (held.owns_lock()) held.unlock();
    std::unique_lock db_lock(db_mu_);
    Detach();
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s =
        rocksdb::DB::Open(plan_.options, config_.data_dir, plan_.families, &handles, &raw);
    if (!s.ok()) {
      SetProblem("storage closed after a write error and cannot be opened again yet: " +
                 s.ToString());
      return false;
    }
    plan_.listener->Clear();
    Attach(std::unique_ptr<rocksdb::DB>(raw), std::move(handles));
    healthy_.store(false);  // the caller's probe write decides
    return true;
  }

  // Takes over an open database. Caller holds db_mu_ exclusively (or constructs).
  void Attach(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles) {
    db_ = std::move(db);
    handles_ = std::move(handles);
    meta_cf_ = handles_[0];
    tasks_cf_ = handles_[1];
    due_cf_ = handles_[2];
    leases_cf_ = handles_[3];
    finished_cf_ = handles_[4];
    dead_cf_ = handles_[5];
    dedup_cf_ = handles_[6];
  }

  void Detach() {
    if (!db_) return;
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    handles_.clear();
    db_->Close();
    db_.reset();
  }

  std::unexpected<Error> Closed() {
    return Fail(Errc::kUnavailable,
                "storage unavailable: the store was closed after a write "
                "error and is not open again yet (" +
                    HealthProblem() + "); retry later");
  }

  const StoreConfig config_;
  OpenPlan plan_;
  // Every use of db_ and the handles holds db_mu_ shared; only Reopen holds it exclusively.
  // Lock order: db_mu_, write_mu_, mu_.
  std::shared_mutex db_mu_;
  std::mutex recover_mu_;  // one recovery attempt at a time
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* tasks_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* due_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* leases_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* finished_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* dead_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedup_cf_ = nullptr;
  rocksdb::WriteOptions durable_options_;
  rocksdb::WriteOptions unsynced_options_;

  // write_mu_ makes each state change a read-modify-write that no other can interleave.
  // (In the server one thread makes them all, so it is uncontended.)
  std::mutex write_mu_;
  // mu_ guards the in-memory schedule; held only briefly, never across an fsync, so that
  // Promote on the scheduler thread is not delayed by writes.
  mutable std::mutex mu_;
  NearWindow window_;
  TimerQueue leases_;  // lease deadlines (topic unused); entries may be stale
  std::vector<uint32_t> pending_topics_;
  std::mt19937_64 lease_rng_;  // guarded by write_mu_

  std::atomic<bool> healthy_{true};    // false after a failed write, until one succeeds
  std::atomic<bool> disk_low_{false};  // the last add round found less free space than the reserve
  std::mutex problem_mu_;
  std::string problem_;  // the last write error or free-space refusal (guarded by problem_mu_)
  std::atomic<uint64_t> add_batches_{0};
  std::atomic<uint64_t> synced_batches_{0};
  std::atomic<uint64_t> tasks_added_{0};
  std::atomic<uint64_t> tasks_consumed_{0};
  std::atomic<uint64_t> tasks_purged_{0};
};

}  // namespace
}  // namespace rocks

Result<std::unique_ptr<Store>> OpenRocksStore(const StoreConfig& config) {
  rocks::OpenPlan plan = rocks::MakeOpenPlan(config);
  rocksdb::DBOptions& options = plan.options;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, config.data_dir, plan.families, &handles, &raw);
  if (!s.ok()) {
    std::string why = s.ToString();
    if (why.find("lock") != std::string::npos || why.find("LOCK") != std::string::npos) {
      return Fail(Errc::kUnavailable, "data_dir '" + config.data_dir +
                                          "' is in use by another delayq process (" + why +
                                          "); stop it or choose another --data-dir");
    }
    if (rocks::IsNoSpace(s)) {
      return Fail(Errc::kUnavailable, "cannot open data_dir '" + config.data_dir +
                                          "': disk full (" + why +
                                          "); free space on its filesystem and start again");
    }
    return Fail(Errc::kUnavailable, "cannot open data_dir '" + config.data_dir + "': " + why);
  }
  auto store = std::make_unique<rocks::RocksStore>(
      config, std::move(plan), std::unique_ptr<rocksdb::DB>(raw), std::move(handles));
  if (auto loaded = store->LoadLeases(); !loaded) return std::unexpected(loaded.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace delayq::store
