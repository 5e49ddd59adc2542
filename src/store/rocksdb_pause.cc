// Paused topics of the embedded store: one key per paused topic in the default column family
// (the durable truth), mirrored in memory under mu_ so that the claims, HasDue and Promote
// check it without a read.

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

Result<void> RocksStore::LoadPaused() {
  std::string prefix(1, kPausedPrefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  std::lock_guard lock(mu_);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    rocksdb::Slice key = it->key();
    paused_[std::string(key.data() + 1, key.size() - 1)] = DecodeInt64(it->value());
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  return {};
}

Result<void> RocksStore::SetPaused(std::string_view topic, bool paused, int64_t now_ms) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  // Under write_mu_, as every state change: a claim either ran before (and its tasks were
  // taken before the pause) or sees the topic paused.
  std::lock_guard write_lock(write_mu_);
  std::string name(topic);
  int64_t since = 0;
  {
    std::lock_guard lock(mu_);
    auto it = paused_.find(name);
    if (it != paused_.end()) since = it->second;
  }
  if ((since != 0) == paused) return {};
  int64_t at = std::max<int64_t>(now_ms, 1);  // 0 means "not paused"
  Batch batch;
  if (paused) {
    batch.Put(meta_cf_, PausedKey(topic), EncodeInt64(at));
  } else {
    batch.Delete(meta_cf_, PausedKey(topic));
  }
  // Synced in fsync mode: the caller is told the topic is paused, and a power loss must not
  // start its deliveries again.
  if (auto ok = Write(durable_options_, &batch); !ok) return ok;
  std::lock_guard lock(mu_);
  if (paused) {
    paused_[name] = at;
  } else {
    paused_.erase(name);
  }
  return {};
}

bool RocksStore::PausedLocked(std::string_view topic) const {
  return !paused_.empty() && paused_.contains(std::string(topic));
}

// Marks the paused topics among `stats` (sorted by topic) and adds those without tasks, so
// that a paused topic is listed whatever it holds. Caller holds mu_.
void RocksStore::AddPausedStats(std::string_view topic, std::vector<TopicStats>& stats) const {
  if (paused_.empty()) return;
  for (const auto& [name, since] : paused_) {
    if (!topic.empty() && name != topic) continue;
    auto it =
        std::lower_bound(stats.begin(), stats.end(), name,
                         [](const TopicStats& s, const std::string& n) { return s.topic < n; });
    if (it == stats.end() || it->topic != name) {
      it = stats.insert(it, TopicStats{name});
    }
    it->paused = true;
    it->paused_at_ms = since;
  }
}

}  // namespace delayq::store::rocks
