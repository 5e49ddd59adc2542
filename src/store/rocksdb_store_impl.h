#pragma once

// The embedded RocksDB store's class, its tunables and helpers, shared by its files:
// rocksdb_store.cc (opening, adds, reads, purges), rocksdb_due.cc (the near window: promoting,
// taking due tasks, lease expiry), rocksdb_transitions.cc (leases and changes of scheduled
// tasks), rocksdb_dead.cc (dead tasks in bulk), rocksdb_health.cc (writes, free space, health,
// recovery) and rocksdb_listing.cc (listing scheduled tasks, the due horizon). For rocksdb_*.cc
// only.

#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queue/near_window.h"
#include "store/record_codec.h"
#include "store/rocksdb_keys.h"
#include "store/rocksdb_options.h"
#include "store/store.h"

namespace delayq::store::rocks {

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
// At most this many bytes of records of leased and delivering tasks are kept for their
// settlement (see taken_): callback claims are bounded by callbacks.max_in_flight, v1 leases
// are not, and a payload may be large. Beyond it a settlement reads the record, as before.
constexpr size_t kTakenBytesMax = 16 << 20;

inline std::string Describe(TaskId id) { return "task " + std::to_string(id); }

// The near window keeps one ready set per lane: a topic's pull tasks and its callback
// tasks wait apart, so that a pull consumer never takes a callback task's hint and the
// dispatcher claims callbacks topic by topic. A callback lane is the topic name behind a
// \x01 byte, which topic names cannot contain.
constexpr char kCallbackLaneMark = '\x01';

inline std::string LaneName(DeliveryKind kind, std::string_view topic) {
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

// What a kept record costs, roughly: the task and its strings (see taken_).
inline size_t TakenBytes(const Task& task) {
  return sizeof(Task) + task.topic.size() + task.payload.size() + task.last_error.size() +
         task.dedup_key.size() + task.callback.size() + task.traceparent.size() +
         task.tracestate.size();
}

inline std::string MiB(uint64_t bytes) {
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

  Result<void> LoadLeases();
  Result<void> LoadPaused();

  // --- Adding ---------------------------------------------------------------------------------

  Result<std::vector<TaskId>> Add(std::span<const Task> tasks) override;
  Result<Task> Get(TaskId id) override;
  Result<Task> Read(TaskId id);

  // --- Time -----------------------------------------------------------------------------------

  Result<PromoteResult> Promote(int64_t now_ms) override;
  bool HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) override;

  // --- Taking due tasks -------------------------------------------------------------------------

  Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max, int64_t now_ms) override;
  Result<std::vector<Task>> ClaimDue(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms) override;
  Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) override;

  // --- Leases ---------------------------------------------------------------------------------

  Result<Task> Ack(TaskId id, uint64_t lease_token, int64_t now_ms) override;
  Result<Task> Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms, std::string_view reason,
                    int64_t now_ms) override;
  Result<Task> ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                           int64_t now_ms) override;
  std::vector<Result<Task>> Settle(std::span<const Settlement> settlements,
                                   int64_t now_ms) override;
  Result<size_t> ExpireLeases(int64_t now_ms, size_t limit) override;

  // --- Changing scheduled tasks -----------------------------------------------------------------

  Result<Task> Cancel(TaskId id, int64_t now_ms) override;
  Result<Task> Reschedule(TaskId id, int64_t due_at_ms, int64_t /*now_ms*/) override;
  Result<Task> Redrive(TaskId id, int64_t now_ms) override;

  // --- Reading --------------------------------------------------------------------------------

  Result<std::vector<Task>> ListDead(std::string_view topic, TaskId after_id,
                                     size_t limit) override;
  Result<std::vector<TopicStats>> Topics(std::string_view topic, int64_t now_ms) override;

  // --- Housekeeping ---------------------------------------------------------------------------

  Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) override;
  Result<TaskId> MaxTaskId() override;
  Result<void> Sync() override;
  bool Healthy() override;
  std::string HealthProblem() override;
  StoreStats Stats() const override;
  std::vector<BackendMetric> MemoryMetrics() const;  // rocksdb_memory.cc

  // --- Dead tasks in bulk (rocksdb_dead.cc) -----------------------------------------------------

  Result<DeadBulkResult> RedriveDead(std::string_view topic, size_t limit, int64_t now_ms) override;
  Result<DeadBulkResult> DeleteDead(std::string_view topic, size_t limit, int64_t now_ms) override;

  // --- Listing and horizon (rocksdb_listing.cc) ------------------------------------------------

  Result<ScheduledPage> ListScheduled(const ScheduledQuery& query) override;
  Result<HorizonCounts> Horizon(std::string_view topic, int64_t start_ms, int64_t bucket_ms,
                                size_t buckets) override;

  // --- Topic pause (rocksdb_pause.cc) -----------------------------------------------------------

  Result<void> SetPaused(std::string_view topic, bool paused, int64_t now_ms) override;

  // --- Schedules (rocksdb_schedules.cc) ---------------------------------------------------------

  Result<std::optional<ScheduleRecord>> GetSchedule(std::string_view name) override;
  Result<uint64_t> PutSchedule(const ScheduleRecord& record, uint64_t expected_version) override;
  Result<bool> DeleteSchedule(std::string_view name) override;
  Result<std::vector<ScheduleRecord>> ListSchedules(std::string_view topic,
                                                    std::string_view after_name,
                                                    size_t limit) override;
  Result<std::vector<ScheduleRecord>> DueSchedules(int64_t now_ms, size_t limit) override;
  Result<int64_t> NextScheduleMs() override;

 private:
  Result<std::optional<ScheduleRecord>> ReadSchedule(std::string_view name);
  Result<HorizonBucket> CountDue(std::string_view topic, int64_t from_ms, int64_t to_ms);
  // The dead tasks of `topic` a bulk call handles (the first `limit` entries of its dead index)
  // and whether more entries follow. Caller holds db_mu_ and write_mu_.
  Result<std::vector<Task>> FirstDead(std::string_view topic, size_t limit, Batch* batch,
                                      bool* more);
  // Whether deliveries of `topic` are paused. Caller holds mu_.
  bool PausedLocked(std::string_view topic) const;
  void AddPausedStats(std::string_view topic, std::vector<TopicStats>& stats) const;
  enum class LoadOutcome { kUpToDate, kMorePending, kWindowFull };
  Result<std::vector<Task>> TakeDue(std::string_view topic, DeliveryKind kind, size_t max,
                                    int64_t now_ms, int64_t lease_until_ms);
  Result<LoadOutcome> LoadWindow(int64_t now_ms);
  void ScheduleInWindow(const Task& task);
  void Count(Batch* batch, std::string_view topic, TaskState state, int64_t delta);
  void Transition(Batch* batch, Task* task, TaskState to);
  void Finish(Batch* batch, Task* task, TaskState to, int64_t now_ms);
  void Schedule(Batch* batch, Task* task, int64_t due_at_ms);
  void UnindexDead(Batch* batch, const Task& task);
  void Revive(Batch* batch, Task* task, int64_t now_ms);
  void Release(Batch* batch, Task* task, int64_t retry_at_ms, std::string_view reason,
               int64_t now_ms);
  static void ClearLease(Task* task);
  Result<Task> LeasedTask(TaskId id, uint64_t lease_token);
  Result<Task> TakenOrRead(TaskId id, uint64_t lease_token);
  void Remember(const Task& task);
  void Forget(TaskId id);
  Result<Task> CheckLease(Result<Task> task, uint64_t lease_token);
  uint64_t NewLeaseToken();
  Result<TaskId> FindDedup(const std::string& key);
  Result<TaskId> FindDedupEntry(const std::string& key);
  void RestoreReady(const std::vector<DueRef>& popped);
  void RestoreLeases(const std::vector<DueRef>& popped);
  std::unexpected<Error> ReadFailed(const rocksdb::Status& s);
  Result<void> Write(const rocksdb::WriteOptions& options, Batch* batch);
  std::string WriteFailure(const rocksdb::Status& s) const;
  void SetProblem(std::string problem);
  Result<void> CheckFreeSpace();
  bool Resume();
  bool Reopen(std::shared_lock<std::shared_mutex>& held);
  void Attach(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles);
  void Detach();
  std::unexpected<Error> Closed();
  const StoreConfig config_;
  OpenPlan plan_;
  // Every use of db_ and the handles holds db_mu_ shared; only Reopen holds it exclusively.
  // Lock order: db_mu_, write_mu_, mu_.
  mutable std::shared_mutex db_mu_;
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
  // Paused topics -> paused_at_ms, as on disk (keys "P" + topic); changed under write_mu_.
  std::unordered_map<std::string, int64_t> paused_;
  std::mt19937_64 lease_rng_;  // guarded by write_mu_
  // The record of each task this process took under a lease, as its claim wrote it, so that
  // the ack or the callback outcome ends the lease without reading the record back (a read
  // was ~a fifth of the store worker's time delivering to the Kafka sink). A leased record
  // changes only through the writes below, all under write_mu_: each one that ends or moves
  // a lease drops its entry, and one is used only for the lease token it was written with.
  // Cleared when the database is closed. Guarded by write_mu_.
  std::unordered_map<TaskId, Task> taken_;
  size_t taken_bytes_ = 0;  // TakenBytes of the records in taken_
  // Makes a schedule's version check and write one step (lock order: after db_mu_).
  std::mutex schedules_mu_;

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

}  // namespace delayq::store::rocks
