#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/defaults.h"
#include "common/result.h"
#include "queue/task.h"
#include "queue/timer_queue.h"

namespace delayq::store {

enum class Durability {
  kFsync,     // an acknowledged write survives power loss (WAL synced before returning)
  kBuffered,  // an acknowledged write survives a process crash (WAL in the OS page cache)
};

// A test seam: faults the embedded store's file layer injects while set (0: none), as an
// errno such as ENOSPC or EIO that every file RocksDB writes then sees, as with a failing
// disk. Any thread may change them at any time.
struct FileFaults {
  std::atomic<int> write_errno{0};  // appends to the write-ahead log, table files, MANIFEST
  std::atomic<int> sync_errno{0};   // fsync, fdatasync, range sync
};

struct StoreConfig {
  std::string backend = defaults::kStore;
  std::string data_dir = defaults::kDataDir;
  Durability durability = Durability::kFsync;
  // Near window: tasks due within this span are held in memory (docs/ARCHITECTURE.md,
  // "The near window").
  int64_t near_window_ms = defaults::kNearWindowMs;
  // Upper bound on tasks held in memory (scheduled in the window + due, not yet taken).
  // Bounds RAM when consumers fall far behind; ~50 bytes each.
  size_t near_window_max_tasks = defaults::kNearWindowMaxTasks;
  // Adds are refused ("disk full") while the filesystem of data_dir has less free space than
  // this, so that the space left lets pulls, acks, callback outcomes and the purge go on and
  // RocksDB can still flush; never more than a tenth of the filesystem, so that a small one
  // stays usable. 0: no reserve (adds run until a write fails).
  uint64_t min_free_disk_bytes = defaults::kMinFreeDiskBytes;
  // Tests only: the fault seam of the file layer (null: the plain default file system).
  std::shared_ptr<FileFaults> file_faults;

  // store: redis (docs/CONFIG.md).
  std::string redis_url = defaults::kRedisUrl;
  // How often an instance looks for work that other instances made due (an add on another
  // instance cannot wake this one's scheduler directly).
  int64_t redis_poll_ms = defaults::kRedisPollMs;
  // Node numbers are leased for this long and renewed at a third of it.
  int64_t redis_node_lease_ms = 30'000;
  // Bounds on one connection attempt and one command (a hung node answers 503 in time).
  int64_t redis_connect_timeout_ms = defaults::kRedisConnectTimeoutMs;
  int64_t redis_command_timeout_ms = defaults::kRedisCommandTimeoutMs;
  // Redis Sentinel: host:port of each sentinel and the master's name; empty: redis.url.
  std::vector<std::string> redis_sentinels;
  std::string redis_sentinel_master;
  std::string redis_sentinel_user;
  std::string redis_sentinel_password;
  // An add is acknowledged only once this many replicas confirm it (WAIT), within the
  // timeout; otherwise its outcome is unknown.
  int64_t redis_wait_replicas = defaults::kRedisWaitReplicas;
  int64_t redis_wait_timeout_ms = defaults::kRedisWaitTimeoutMs;
};

struct PromoteResult {
  std::vector<std::string> topics_ready;  // topics that received due pull tasks since last call
  std::vector<std::string> callback_topics_ready;  // ... due callback tasks
  size_t promoted = 0;
  bool leases_expired = false;         // ExpireLeases has work to do
  int64_t next_wake_ms = kNoDeadline;  // call Promote again no later than this
};

// Per topic: how many tasks are in each state (TaskState order), how many due tasks wait
// in memory for a consumer, and how late the oldest of those is.
struct TopicStats {
  std::string topic;
  std::array<int64_t, 6> by_state{};  // index: static_cast<int>(TaskState)
  size_t due_waiting = 0;
  int64_t oldest_due_lateness_ms = 0;
  bool paused = false;       // Store::SetPaused
  int64_t paused_at_ms = 0;  // when it was paused (0: not paused)
};

// A backend's own series for /metrics (the Redis client's connections and faults).
struct BackendMetric {
  std::string name;
  std::string help;
  bool counter = true;                                  // else a gauge
  std::vector<std::pair<std::string, double>> samples;  // labels ("" or `kind="x"`) -> value
};

struct StoreStats {
  uint64_t add_batches = 0;     // Add() calls that wrote (one WAL write each)
  uint64_t synced_batches = 0;  // of those, how many were fsynced
  uint64_t tasks_added = 0;
  uint64_t tasks_consumed = 0;
  uint64_t tasks_purged = 0;
  size_t window_scheduled = 0;  // in memory, not yet due
  size_t window_ready = 0;      // in memory, due, not yet taken
  size_t leases_tracked = 0;    // lease deadlines held in memory
  std::vector<BackendMetric> backend;
};

// Ends one lease (see Store::Settle): completed (`ok`, as Ack) or given back (as Nack: due
// again at `retry_at_ms`, or dead when out of attempts, with `reason` as last_error).
struct Settlement {
  TaskId id = 0;
  uint64_t lease_token = 0;
  bool ok = true;
  int64_t retry_at_ms = 0;
  std::string reason;
};

// What a bulk operation on a topic's dead tasks did (Store::RedriveDead, DeleteDead).
struct DeadBulkResult {
  size_t count = 0;   // tasks redriven or deleted
  bool more = false;  // the topic still has dead tasks
};

// A recurring schedule as the store keeps it: found by name, listed by topic, and indexed by
// `next_ms` (when the engine next has to act on it). `body` is opaque here (the engine's
// encoding of the definition and its progress).
struct ScheduleRecord {
  std::string name;
  std::string topic;
  int64_t next_ms = kNoDeadline;  // kNoDeadline: not in the index (paused, ended)
  uint64_t version = 0;           // the store's: 1 when created, +1 with every write
  std::string body;
};

// A page of a topic's scheduled tasks in due order (Store::ListScheduled). Positions are
// (due_at_ms, id) pairs in the due index; a page starts strictly after `after` (or at
// `from_ms` when `after` is unset) and ends before `to_ms`.
struct ScheduledQuery {
  std::string topic;
  int64_t from_ms = 0;          // due_at_ms >= from_ms
  int64_t to_ms = kNoDeadline;  // due_at_ms < to_ms
  std::optional<DueKey> after;  // the previous page's `next`
  size_t limit = 100;           // tasks per page at most
  size_t scan_budget = 10'000;  // index entries read per page at most (other topics' too)
};

struct ScheduledPage {
  std::vector<Task> tasks;
  // Where the next page starts; nullopt when the range was read to its end. Set also when
  // the page holds fewer than `limit` tasks because the scan budget ran out.
  std::optional<DueKey> next;
  size_t scanned = 0;  // index entries read
};

// Tasks falling due per time bucket (Store::Horizon): `count` is exact when `exact`, else an
// estimate (docs/API.md, "Due horizon", says how close).
struct HorizonBucket {
  int64_t start_ms = 0;
  int64_t count = 0;
  bool exact = true;
};

struct HorizonCounts {
  HorizonBucket overdue;  // due before the first bucket and not yet handed out
  std::vector<HorizonBucket> buckets;
  // Of all topics: how many were counted one by one (Redis), and whether some topics with
  // tasks due in the span were left out to bound the cost (the counts are then too low).
  size_t topics_counted = 0;
  bool topics_left_out = false;
};

// The operations of a delay queue, each atomic inside the backend. Implementations are
// thread-safe. Times are unix milliseconds (wall clock), passed in by the caller.
//
// Writes that create or change a task are durable under the configured durability before
// they return, except where noted "unsynced": those are written to the log without fsync,
// because losing them in a power failure only re-delivers a task (at-least-once).
class Store {
 public:
  virtual ~Store() = default;

  // Persists every task or none. Callers assign ids; each task must be kScheduled. Returns,
  // per task, the id now stored: the task's own, or, when its dedup_key is already taken
  // in its topic (by a task not yet purged, or earlier in the same call), that task's id
  // (nothing is written for it).
  virtual Result<std::vector<TaskId>> Add(std::span<const Task> tasks) = 0;

  // As Add, with an outcome per task: a backend that stores the tasks of different topics
  // separately (Redis: a script per topic, maybe on different nodes) says which were stored,
  // which were not (kUnavailable) and which may have been (kOutcomeUnknown), so that no
  // task is answered an error although it was stored. By default all share Add's outcome.
  virtual std::vector<Result<TaskId>> AddEach(std::span<const Task> tasks);

  virtual Result<Task> Get(TaskId id) = 0;

  // Reports the topics whose pull or callback lanes have tasks due by `now_ms` (newly, since
  // the last call) and when to call again. RocksDB moves due tasks of its near window into
  // their ready sets and refills the window from disk; Redis reads its next-due index. Writes
  // no task; cheap when idle. Called by the scheduler thread only.
  virtual Result<PromoteResult> Promote(int64_t now_ms) = 0;

  // Whether `topic` has due tasks of `kind` waiting (a long poll re-checks this after
  // registering, so that a wake-up between its claim and its registration is not lost).
  virtual bool HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) = 0;

  // Seed pull: takes up to `max` due pull tasks of `topic`, oldest due first, and marks
  // them done (the seed's pull has no acknowledgement). Unsynced.
  virtual Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max,
                                               int64_t now_ms) = 0;

  // Seed pull by id: kNotFound if unknown, of another topic, not a pull task, or already
  // consumed; kNotDue if its due time has not come. Unsynced.
  virtual Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) = 0;

  // Takes up to `max` due tasks of `kind` of `topic` under a lease until `lease_until_ms`:
  // pull tasks become kLeased (v1 pull), callback tasks kDelivering (the dispatcher);
  // attempts + 1, a fresh lease_token. Unsynced: a lost claim only re-delivers.
  virtual Result<std::vector<Task>> ClaimDue(std::string_view topic, DeliveryKind kind, size_t max,
                                             int64_t now_ms, int64_t lease_until_ms) = 0;

  // Completes a leased or delivering task. kNotFound if unknown; kConflict if the lease is
  // not the current one (expired and re-delivered, already acked, or never leased).
  virtual Result<Task> Ack(TaskId id, uint64_t lease_token, int64_t now_ms) = 0;

  // Gives a leased task back: due again at `retry_at_ms`, or kDead when its attempts are
  // used up. `reason` becomes last_error. Errors as Ack.
  virtual Result<Task> Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms,
                            std::string_view reason, int64_t now_ms) = 0;

  // Moves the deadline of a current lease of a leased pull task to `lease_until_ms` (a
  // handler that runs long keeps its task; the token stays the same). kNotFound if unknown;
  // kConflict if the lease is not the current one or its deadline has passed (`now_ms` at or
  // after it), also before ExpireLeases has run. Unsynced: a lost extension only lets the
  // lease expire at its old deadline.
  virtual Result<Task> ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                                   int64_t now_ms) = 0;

  // Acks and nacks many leases at once: per entry, in order, exactly what Ack or Nack would
  // return. A backend may write them together (RocksDB: one WriteBatch), which is what the
  // store worker uses to record a round's acks and callback outcomes. Unsynced. The
  // default does them one by one.
  virtual std::vector<Result<Task>> Settle(std::span<const Settlement> settlements,
                                           int64_t now_ms) {
    std::vector<Result<Task>> results;
    results.reserve(settlements.size());
    for (const Settlement& s : settlements) {
      results.push_back(s.ok ? Ack(s.id, s.lease_token, now_ms)
                             : Nack(s.id, s.lease_token, s.retry_at_ms, s.reason, now_ms));
    }
    return results;
  }

  // Leases whose time has passed are treated as a nack with no delay. Returns how many
  // expired (at most `limit` per call).
  virtual Result<size_t> ExpireLeases(int64_t now_ms, size_t limit) = 0;

  // A task not yet delivered (kScheduled) becomes kCancelled. kNotFound if unknown;
  // kConflict if it was delivered, is being delivered, or is dead. Cancelling a cancelled
  // task succeeds and changes nothing.
  virtual Result<Task> Cancel(TaskId id, int64_t now_ms) = 0;

  // Moves a task not yet delivered (kScheduled) to a new due time. Errors as Cancel.
  virtual Result<Task> Reschedule(TaskId id, int64_t due_at_ms, int64_t now_ms) = 0;

  // A dead task becomes scheduled again, due now, with its attempts reset. kConflict if
  // it is not dead.
  virtual Result<Task> Redrive(TaskId id, int64_t now_ms) = 0;

  // Dead tasks of a topic in id order, starting after `after_id`.
  virtual Result<std::vector<Task>> ListDead(std::string_view topic, TaskId after_id,
                                             size_t limit) = 0;

  // --- Dead tasks in bulk (the dead list's "redrive all" and "delete all") -----------------------
  // Each call handles the first `limit` dead tasks of `topic` in id order, in one atomic,
  // durable write, and answers how many it handled and whether dead tasks of the topic remain
  // (call again to go on). The cost of a call is bounded by `limit`, whatever the backlog.

  // As Redrive for each: scheduled again, due now, attempts reset.
  virtual Result<DeadBulkResult> RedriveDead(std::string_view topic, size_t limit, int64_t now_ms);
  // Deletes them for good (record, dead entry, retention entry, dedup key), as the purge
  // does once their retention has passed.
  virtual Result<DeadBulkResult> DeleteDead(std::string_view topic, size_t limit, int64_t now_ms);

  // Counts per state for one topic, or for every topic known when `topic` is empty.
  virtual Result<std::vector<TopicStats>> Topics(std::string_view topic, int64_t now_ms) = 0;

  // Deletes up to `limit` finished tasks (done, dead, cancelled) that finished before
  // `finished_before_ms`. Returns how many were deleted. Unsynced.
  virtual Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) = 0;

  // The largest id stored, 0 when empty (the id generator never mints below it).
  virtual Result<TaskId> MaxTaskId() = 0;

  // Makes every write so far durable (used at shutdown in buffered mode).
  virtual Result<void> Sync() = 0;

  // Whether the backend can take writes (readiness probe). RocksDB: false after a write
  // failed, until one succeeds again; while unhealthy each call tries a small write, so that
  // readiness recovers by itself. Redis: every slot (or the master) is served.
  virtual bool Healthy() = 0;

  // Why the store is not healthy (the last write error, or the disk below its reserve), for
  // the readiness answer; empty when there is nothing to say.
  virtual std::string HealthProblem() { return {}; }

  virtual StoreStats Stats() const = 0;

  // --- Listing and horizon -----------------------------------------------------------------------
  // Reads only: a range of the due index, bounded per call whatever the backlog.

  // Scheduled tasks of `query.topic` in due order (ties by id), at most `limit`, reading at
  // most `scan_budget` index entries.
  virtual Result<ScheduledPage> ListScheduled(const ScheduledQuery& query);
  // Scheduled tasks of `topic` (all topics when empty) due in each of `buckets` intervals of
  // `bucket_ms` from `start_ms`, and those due before `start_ms`.
  virtual Result<HorizonCounts> Horizon(std::string_view topic, int64_t start_ms, int64_t bucket_ms,
                                        size_t buckets);

  // --- Topic pause ------------------------------------------------------------------------------

  // Pauses (or resumes) the deliveries of `topic`. While a topic is paused, ConsumeDue and
  // ClaimDue take none of its tasks (of either kind), ConsumeById answers kNotDue, HasDue is
  // false and Promote does not report it; everything else (adds, acks, nacks, extensions,
  // cancels, lease expiry) goes on, so leases and calls already out finish as usual. Its
  // tasks wait in due order and are taken oldest first once it is resumed. Durable, shared by
  // every instance on the same store, and atomic with the claims: a claim that starts after
  // SetPaused returned takes nothing. A topic needs no tasks to be paused (it is then listed
  // by Topics). Pausing a paused topic keeps its paused_at_ms; resuming a topic that is not
  // paused changes nothing.
  virtual Result<void> SetPaused(std::string_view topic, bool paused, int64_t now_ms) = 0;

  // --- Schedules --------------------------------------------------------------------------------
  // Each call is atomic; several instances sharing one store change a schedule only through
  // PutSchedule's version check, so exactly one of them wins each step. Durable.

  // The schedule called `name`, or nullopt.
  virtual Result<std::optional<ScheduleRecord>> GetSchedule(std::string_view name);
  // Writes `record` if the stored version is `expected_version` (0: there is no schedule of
  // that name) and returns the new version (expected_version + 1); kConflict otherwise,
  // writing nothing. `record.version` is ignored.
  virtual Result<uint64_t> PutSchedule(const ScheduleRecord& record, uint64_t expected_version);
  // Deletes it; false when there was none.
  virtual Result<bool> DeleteSchedule(std::string_view name);
  // Schedules in name order after `after_name`; of one topic, or all when `topic` is empty.
  virtual Result<std::vector<ScheduleRecord>> ListSchedules(std::string_view topic,
                                                            std::string_view after_name,
                                                            size_t limit);
  // Schedules with next_ms <= now_ms, earliest first.
  virtual Result<std::vector<ScheduleRecord>> DueSchedules(int64_t now_ms, size_t limit);
  // The earliest next_ms of all schedules; kNoDeadline when none.
  virtual Result<int64_t> NextScheduleMs();

  // The node number for ids minted by this instance. The embedded store owns its data alone
  // and returns `configured`; a shared store leases a number no other live instance holds
  // (trying `configured` first) and keeps renewing it.
  virtual Result<uint32_t> AcquireNodeId(uint32_t configured) { return configured; }
};

// What ConsumeById answers for a task of a paused topic, in the words of both backends.
inline Error PausedRefusal(std::string_view topic, TaskId id) {
  return Error{Errc::kNotDue, "task " + std::to_string(id) + " is not handed out: topic '" +
                                  std::string(topic) +
                                  "' is paused (POST /v1/topics/{topic}/resume)"};
}

Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config);

}  // namespace delayq::store
