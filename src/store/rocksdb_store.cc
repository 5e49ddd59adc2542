#include "store/rocksdb_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_set>

#include "queue/near_window.h"
#include "store/record_codec.h"

namespace delayq::store {
namespace {

// --- On-disk keys -------------------------------------------------------------------------
// Column families (docs/ARCHITECTURE.md):
//   tasks:    id (u64 BE)                       -> record (record_codec.h)
//   due:      due_at_ms (u64 BE), id (u64 BE)   -> kind (u8), topic   [unfinished tasks]
//   finished: finished_at_ms (u64 BE), id (BE)  -> empty              [retention index]
// Big-endian so that bytewise key order is numeric order and "what is due" is a range scan.

constexpr const char* kTasksCf = "tasks";
constexpr const char* kDueCf = "due";
constexpr const char* kFinishedCf = "finished";

void PutBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetBigEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string TaskKey(TaskId id) {
  std::string key;
  PutBigEndian(&key, id);
  return key;
}

// Times are clamped at 0: the API never stores negative instants, and a negative value
// must not wrap around to the end of the index.
std::string TimeIdKey(int64_t ms, TaskId id) {
  std::string key;
  key.reserve(16);
  PutBigEndian(&key, static_cast<uint64_t>(std::max<int64_t>(ms, 0)));
  PutBigEndian(&key, id);
  return key;
}

DueKey DecodeTimeIdKey(const rocksdb::Slice& key) {
  return DueKey{static_cast<int64_t>(GetBigEndian(key.data())), GetBigEndian(key.data() + 8)};
}

std::string DueValue(const Task& task) {
  std::string value;
  value.reserve(1 + task.topic.size());
  value.push_back(static_cast<char>(task.kind));
  value.append(task.topic);
  return value;
}

// --- Tunables -------------------------------------------------------------------------------
// The loader reads the due index in slices so that the window mutex is never held long
// (4,096 entries ≈ 1-2 ms); the scheduler calls again at once while more is pending.
constexpr size_t kLoadSlice = 4096;
// Promote moves at most this many entries per call for the same reason.
constexpr size_t kPromoteSlice = 65536;
// When the window is full (consumers far behind), look again this often.
constexpr int64_t kFullWindowRetryMs = 100;

class RocksStore final : public Store {
 public:
  RocksStore(const StoreConfig& config, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : config_(config), db_(std::move(db)), handles_(std::move(handles)) {
    tasks_cf_ = handles_[1];
    due_cf_ = handles_[2];
    finished_cf_ = handles_[3];
    add_options_.sync = config.durability == Durability::kFsync;
    // State changes after delivery: losing one only re-delivers (at-least-once).
    unsynced_options_.sync = false;
  }

  ~RocksStore() override {
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_->Close();
  }

  Result<void> Add(std::span<const Task> tasks) override {
    rocksdb::WriteBatch batch;
    for (const Task& task : tasks) {
      batch.Put(tasks_cf_, TaskKey(task.id), EncodeTask(task));
      batch.Put(due_cf_, TimeIdKey(task.due_at_ms, task.id), DueValue(task));
    }
    if (auto written = Write(add_options_, &batch); !written) return written;
    add_batches_.fetch_add(1, std::memory_order_relaxed);
    if (add_options_.sync) synced_batches_.fetch_add(1, std::memory_order_relaxed);
    tasks_added_.fetch_add(tasks.size(), std::memory_order_relaxed);

    // Tasks below the loader's cursor will not be read from disk again: put them in memory.
    // A concurrent loader may have read some of them already; the duplicate hint is
    // dropped when a consumer re-checks the record.
    std::lock_guard lock(mu_);
    for (const Task& task : tasks) {
      DueKey key{std::max<int64_t>(task.due_at_ms, 0), task.id};
      if (task.kind == DeliveryKind::kPull && window_.Covers(key)) {
        window_.Schedule(DueRef{key, window_.InternTopic(task.topic)});
      }
    }
    return {};
  }

  Result<Task> Get(TaskId id) override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), tasks_cf_, TaskKey(id), &value);
    if (s.IsNotFound()) return Fail(Errc::kNotFound, "task " + std::to_string(id) + " not found");
    if (!s.ok()) return Fail(Errc::kUnavailable, "storage read failed: " + s.ToString());
    return DecodeTask(value);
  }

  Result<PromoteResult> Promote(int64_t now_ms) override {
    PromoteResult result;
    std::vector<uint32_t> topics;
    std::lock_guard lock(mu_);
    auto loaded = LoadWindow(now_ms);
    if (!loaded) return std::unexpected(loaded.error());
    result.promoted = window_.Promote(now_ms, kPromoteSlice, &pending_topics_);
    topics.swap(pending_topics_);
    for (uint32_t topic : topics) result.topics_ready.push_back(window_.TopicName(topic));

    int64_t refill_at = window_.cursor().due_at_ms - config_.near_window_ms / 2;
    result.next_wake_ms = std::min(window_.NextDeadlineMs(), refill_at);
    if (*loaded == LoadOutcome::kMorePending || window_.NextDeadlineMs() <= now_ms) {
      result.next_wake_ms = now_ms;  // a slice limit was hit: continue right away
    } else if (*loaded == LoadOutcome::kWindowFull) {
      result.next_wake_ms = std::min(result.next_wake_ms, now_ms + kFullWindowRetryMs);
    }
    return result;
  }

  Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max,
                                       int64_t now_ms) override {
    std::vector<Task> taken;
    std::lock_guard lock(mu_);
    // Serve tasks that fell due since the scheduler last ran (their topics are reported by
    // the next Promote), and do not depend on the scheduler having loaded the window yet.
    if (auto loaded = LoadWindow(now_ms); !loaded) return std::unexpected(loaded.error());
    window_.Promote(now_ms, kPromoteSlice, &pending_topics_);
    auto topic_index = window_.FindTopic(topic);
    if (!topic_index) return taken;

    rocksdb::WriteBatch batch;
    std::vector<DueRef> popped;
    std::unordered_set<TaskId> seen;
    while (taken.size() < max) {
      auto ref = window_.PopReady(*topic_index);
      if (!ref) break;
      popped.push_back(*ref);
      if (!seen.insert(ref->key.id).second) continue;  // duplicate hint
      auto task = Get(ref->key.id);
      if (!task) {
        if (task.error().code == Errc::kNotFound) continue;  // purged or never written
        RestoreReady(popped);
        return std::unexpected(task.error());
      }
      // The record is the authority: a hint for a task taken, cancelled or moved is stale.
      if (task->state != TaskState::kScheduled || task->kind != DeliveryKind::kPull ||
          task->topic != topic || std::max<int64_t>(task->due_at_ms, 0) != ref->key.due_at_ms) {
        continue;
      }
      MarkConsumed(&*task, now_ms, &batch);
      taken.push_back(std::move(*task));
    }
    if (taken.empty()) return taken;
    if (auto written = Write(unsynced_options_, &batch); !written) {
      RestoreReady(popped);
      return std::unexpected(written.error());
    }
    tasks_consumed_.fetch_add(taken.size(), std::memory_order_relaxed);
    return taken;
  }

  Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) override {
    std::lock_guard lock(mu_);  // serialises with ConsumeDue: a task is taken once
    auto task = Get(id);
    if (!task) return task;
    std::string name = "task " + std::to_string(id);
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
    rocksdb::WriteBatch batch;
    MarkConsumed(&*task, now_ms, &batch);
    // Its hint in the window, if any, is now stale and will be dropped when popped.
    if (auto written = Write(unsynced_options_, &batch); !written) {
      return std::unexpected(written.error());
    }
    tasks_consumed_.fetch_add(1, std::memory_order_relaxed);
    return task;
  }

  Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) override {
    std::string upper = TimeIdKey(finished_before_ms, 0);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, finished_cf_));
    rocksdb::WriteBatch batch;
    size_t purged = 0;
    for (it->SeekToFirst(); it->Valid() && purged < limit; it->Next()) {
      DueKey key = DecodeTimeIdKey(it->key());
      batch.Delete(finished_cf_, it->key());
      batch.Delete(tasks_cf_, TaskKey(key.id));
      ++purged;
    }
    if (!it->status().ok()) {
      return Fail(Errc::kUnavailable, "storage read failed: " + it->status().ToString());
    }
    if (purged == 0) return size_t{0};
    if (auto written = Write(unsynced_options_, &batch); !written) {
      return std::unexpected(written.error());
    }
    tasks_purged_.fetch_add(purged, std::memory_order_relaxed);
    return purged;
  }

  Result<TaskId> MaxTaskId() override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), tasks_cf_));
    it->SeekToLast();
    if (!it->status().ok()) {
      return Fail(Errc::kUnavailable, "storage read failed: " + it->status().ToString());
    }
    return it->Valid() ? GetBigEndian(it->key().data()) : TaskId{0};
  }

  Result<void> Sync() override {
    rocksdb::Status s = db_->SyncWAL();
    if (!s.ok()) return Fail(Errc::kUnavailable, "storage sync failed: " + s.ToString());
    return {};
  }

  bool Healthy() const override { return healthy_.load(std::memory_order_relaxed); }

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
    return stats;
  }

 private:
  enum class LoadOutcome { kUpToDate, kMorePending, kWindowFull };

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
      if (value.size() >= 1 &&
          static_cast<uint8_t>(value[0]) == static_cast<uint8_t>(DeliveryKind::kPull)) {
        std::string_view topic(value.data() + 1, value.size() - 1);
        window_.Schedule(DueRef{key, window_.InternTopic(topic)});
      }
      window_.SetCursor(DueKey{key.due_at_ms, key.id + 1});
      ++loaded;
    }
    if (!it->status().ok()) {
      return Fail(Errc::kUnavailable, "storage read failed: " + it->status().ToString());
    }
    window_.SetCursor(DueKey{horizon, 0});
    return LoadOutcome::kUpToDate;
  }

  void MarkConsumed(Task* task, int64_t now_ms, rocksdb::WriteBatch* batch) {
    batch->Delete(due_cf_, TimeIdKey(task->due_at_ms, task->id));
    task->state = TaskState::kDone;
    task->attempts += 1;
    task->finished_at_ms = now_ms;
    batch->Put(tasks_cf_, TaskKey(task->id), EncodeTask(*task));
    batch->Put(finished_cf_, TimeIdKey(now_ms, task->id), rocksdb::Slice());
  }

  // A failed write must not lose the in-memory hints: the tasks are still due.
  void RestoreReady(const std::vector<DueRef>& popped) {
    for (const DueRef& ref : popped) window_.PushReady(ref);
  }

  Result<void> Write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) {
    rocksdb::Status s = db_->Write(options, batch);
    if (!s.ok()) {
      healthy_.store(false, std::memory_order_relaxed);
      return Fail(Errc::kUnavailable, "storage write failed: " + s.ToString());
    }
    healthy_.store(true, std::memory_order_relaxed);
    return {};
  }

  const StoreConfig config_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* tasks_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* due_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* finished_cf_ = nullptr;
  rocksdb::WriteOptions add_options_;
  rocksdb::WriteOptions unsynced_options_;

  mutable std::mutex mu_;  // guards window_ and pending_topics_; serialises consumption
  NearWindow window_;
  std::vector<uint32_t> pending_topics_;

  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> add_batches_{0};
  std::atomic<uint64_t> synced_batches_{0};
  std::atomic<uint64_t> tasks_added_{0};
  std::atomic<uint64_t> tasks_consumed_{0};
  std::atomic<uint64_t> tasks_purged_{0};
};

rocksdb::ColumnFamilyOptions IndexFamilyOptions() {
  rocksdb::ColumnFamilyOptions options;
  // The due and finished indexes are queues: keys are inserted, read once, deleted. Compact
  // files that fill with tombstones so that range scans do not wade through them.
  options.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/16384,
                                                    /*deletion_trigger=*/8192));
  return options;
}

rocksdb::ColumnFamilyOptions TaskFamilyOptions() {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));  // point lookups by id
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = 64 << 20;
  return options;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenRocksStore(const StoreConfig& config) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  options.max_total_wal_size = 256 << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kTasksCf, TaskFamilyOptions()},
      {kDueCf, IndexFamilyOptions()},
      {kFinishedCf, IndexFamilyOptions()},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, config.data_dir, families, &handles, &raw);
  if (!s.ok()) {
    std::string why = s.ToString();
    if (why.find("lock") != std::string::npos || why.find("LOCK") != std::string::npos) {
      return Fail(Errc::kUnavailable, "data_dir '" + config.data_dir +
                                          "' is in use by another delayq process (" + why +
                                          "); stop it or choose another --data-dir");
    }
    return Fail(Errc::kUnavailable, "cannot open data_dir '" + config.data_dir + "': " + why);
  }
  return std::unique_ptr<Store>(
      new RocksStore(config, std::unique_ptr<rocksdb::DB>(raw), std::move(handles)));
}

}  // namespace delayq::store
