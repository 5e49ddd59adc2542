// Dead tasks of a topic in bulk (redrive all, delete all), a bounded slice per call: the first
// entries of the topic's dead index, changed in one WriteBatch.

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

// An entry whose record is missing or no longer dead (it cannot be: the index and the record
// change in one batch, but a damaged store must not stop the bulk call) is dropped from the
// index and not counted.
Result<std::vector<Task>> RocksStore::FirstDead(std::string_view topic, size_t limit, Batch* batch,
                                                bool* more) {
  std::vector<Task> dead;
  std::string prefix = TopicKey(topic, "");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), dead_cf_));
  size_t visited = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && visited < limit;
       it->Next()) {
    ++visited;
    auto task = Read(GetBigEndian(it->key().data() + prefix.size()));
    if (!task && task.error().code != Errc::kNotFound) return std::unexpected(task.error());
    if (!task || task->state != TaskState::kDead) {
      batch->Delete(dead_cf_, it->key());
      continue;
    }
    dead.push_back(std::move(*task));
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  *more = it->Valid() && it->key().starts_with(prefix);
  return dead;
}

Result<DeadBulkResult> RocksStore::RedriveDead(std::string_view topic, size_t limit,
                                               int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  Batch batch;
  DeadBulkResult result;
  auto dead = FirstDead(topic, limit, &batch, &result.more);
  if (!dead) return std::unexpected(dead.error());
  for (Task& task : *dead) Revive(&batch, &task, now_ms);
  if (batch.Count() == 0) return result;
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  result.count = dead->size();
  std::lock_guard lock(mu_);
  for (const Task& task : *dead) ScheduleInWindow(task);
  return result;
}

Result<DeadBulkResult> RocksStore::DeleteDead(std::string_view topic, size_t limit,
                                              int64_t /*now_ms*/) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard write_lock(write_mu_);
  Batch batch;
  DeadBulkResult result;
  auto dead = FirstDead(topic, limit, &batch, &result.more);
  if (!dead) return std::unexpected(dead.error());
  for (const Task& task : *dead) {
    UnindexDead(&batch, task);
    batch.Delete(tasks_cf_, TaskKey(task.id));
    Count(&batch, task.topic, TaskState::kDead, -1);
    if (!task.dedup_key.empty()) {
      std::string dedup = TopicKey(task.topic, task.dedup_key);
      auto owner = FindDedupEntry(dedup);
      if (owner && *owner == task.id) batch.Delete(dedup_cf_, dedup);
    }
  }
  if (batch.Count() == 0) return result;
  // The caller was told "deleted": as durable as a cancel.
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  result.count = dead->size();
  return result;
}

}  // namespace delayq::store::rocks
