#include "store/rocksdb_store.h"

#include "queue/transitions.h"
#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

// Leases survive restarts: every lease still open is tracked again (a lease that ran out
// while the process was down expires at the first Promote).
Result<void> RocksStore::LoadLeases() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), leases_cf_));
  std::lock_guard lock(mu_);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    leases_.Add(DueRef{DecodeTimeIdKey(it->key()), 0});
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  return {};
}

Result<std::vector<TaskId>> RocksStore::Add(std::span<const Task> tasks) {
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

Result<Task> RocksStore::Get(TaskId id) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  return Read(id);
}

// Caller holds db_mu_ (shared) with the database open.
Result<Task> RocksStore::Read(TaskId id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), tasks_cf_, TaskKey(id), &value);
  if (s.IsNotFound()) return std::unexpected(TaskNotFound(id));
  if (!s.ok()) return ReadFailed(s);
  return DecodeTask(value);
}

Result<std::vector<Task>> RocksStore::ListDead(std::string_view topic, TaskId after_id,
                                               size_t limit) {
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

Result<std::vector<TopicStats>> RocksStore::Topics(std::string_view topic, int64_t now_ms) {
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
    if (stats.empty() || stats.back().topic != name) stats.push_back(TopicStats{std::string(name)});
    if (state < stats.back().by_state.size())
      stats.back().by_state[state] = DecodeInt64(it->value());
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  std::lock_guard lock(mu_);
  AddPausedStats(topic, stats);
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

Result<size_t> RocksStore::PurgeFinished(int64_t finished_before_ms, size_t limit) {
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

Result<TaskId> RocksStore::MaxTaskId() {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), tasks_cf_));
  it->SeekToLast();
  if (!it->status().ok()) return ReadFailed(it->status());
  return it->Valid() ? GetBigEndian(it->key().data()) : TaskId{0};
}

StoreStats RocksStore::Stats() const {
  StoreStats stats;
  stats.add_batches = add_batches_.load(std::memory_order_relaxed);
  stats.synced_batches = synced_batches_.load(std::memory_order_relaxed);
  stats.tasks_added = tasks_added_.load(std::memory_order_relaxed);
  stats.tasks_consumed = tasks_consumed_.load(std::memory_order_relaxed);
  stats.tasks_purged = tasks_purged_.load(std::memory_order_relaxed);
  stats.backend = MemoryMetrics();  // before mu_: it takes db_mu_, which comes first
  std::lock_guard lock(mu_);
  stats.window_scheduled = window_.scheduled_count();
  stats.window_ready = window_.ready_count();
  stats.leases_tracked = leases_.size();
  return stats;
}

// The id a dedup key points to, 0 when free (never set, or its task was purged).
Result<TaskId> RocksStore::FindDedup(const std::string& key) {
  auto owner = FindDedupEntry(key);
  if (!owner || *owner == 0) return owner;
  auto task = Read(*owner);
  if (!task)
    return task.error().code == Errc::kNotFound ? Result<TaskId>(0) : std::unexpected(task.error());
  return *owner;
}

Result<TaskId> RocksStore::FindDedupEntry(const std::string& key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), dedup_cf_, key, &value);
  if (s.IsNotFound()) return TaskId{0};
  if (!s.ok()) return ReadFailed(s);
  return value.size() == 8 ? GetBigEndian(value.data()) : TaskId{0};
}

}  // namespace delayq::store::rocks

namespace delayq::store {

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
  if (auto loaded = store->LoadPaused(); !loaded) return std::unexpected(loaded.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace delayq::store
