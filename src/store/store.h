#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "queue/task.h"
#include "queue/timer_queue.h"

namespace delayq::store {

enum class Durability {
  kFsync,     // an acknowledged write survives power loss (WAL synced before returning)
  kBuffered,  // an acknowledged write survives a process crash (WAL in the OS page cache)
};

struct StoreConfig {
  std::string backend = "rocksdb";
  std::string data_dir = "./data";
  Durability durability = Durability::kFsync;
  // Near window (DESIGN.md §2): tasks due within this span are held in memory.
  int64_t near_window_ms = 10'000;
  // Upper bound on tasks held in memory (scheduled in the window + due, not yet taken).
  // Bounds RAM when consumers fall far behind; ~50 bytes each.
  size_t near_window_max_tasks = 1'000'000;
};

struct PromoteResult {
  std::vector<std::string> topics_ready;  // topics that received due tasks since last call
  size_t promoted = 0;
  int64_t next_wake_ms = kNoDeadline;  // call Promote again no later than this
};

struct StoreStats {
  uint64_t add_batches = 0;     // Add() calls that wrote (one WAL write each)
  uint64_t synced_batches = 0;  // of those, how many were fsynced
  uint64_t tasks_added = 0;
  uint64_t tasks_consumed = 0;
  uint64_t tasks_purged = 0;
  size_t window_scheduled = 0;  // in memory, not yet due
  size_t window_ready = 0;      // in memory, due, not yet taken
};

// The operations of a delay queue, each atomic inside the backend. Implementations are
// thread-safe. Times are unix milliseconds (wall clock), passed in by the caller.
class Store {
 public:
  virtual ~Store() = default;

  // Persists every task or none. Returns once the write is durable under the configured
  // durability. Callers assign ids; each task must be kScheduled.
  virtual Result<void> Add(std::span<const Task> tasks) = 0;

  virtual Result<Task> Get(TaskId id) = 0;

  // Moves scheduled tasks whose due time has come into their topics' ready sets, and
  // keeps the near window filled from disk. Cheap when there is nothing to do.
  virtual Result<PromoteResult> Promote(int64_t now_ms) = 0;

  // Seed pull: takes up to `max` due pull tasks of `topic`, oldest due first, and marks
  // them done (the seed's pull has no acknowledgement). The state change is written
  // without fsync: losing it in a crash only re-delivers the task.
  virtual Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max,
                                               int64_t now_ms) = 0;

  // Seed pull by id: kNotFound if unknown, of another topic, not a pull task, or already
  // consumed; kNotDue if its due time has not come.
  virtual Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) = 0;

  // Deletes up to `limit` finished tasks (done, dead, cancelled) that finished before
  // `finished_before_ms`. Returns how many were deleted.
  virtual Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) = 0;

  // The largest id stored, 0 when empty (the id generator never mints below it).
  virtual Result<TaskId> MaxTaskId() = 0;

  // Makes every write so far durable (used at shutdown in buffered mode).
  virtual Result<void> Sync() = 0;

  // False after a write failed, until one succeeds again (readiness probe).
  virtual bool Healthy() const = 0;

  virtual StoreStats Stats() const = 0;
};

Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config);

}  // namespace delayq::store
