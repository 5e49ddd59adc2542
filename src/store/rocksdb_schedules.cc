// The embedded store's schedules: records and their two indexes in the default column family,
// beside the state counters ("n" keys), each change one durable write batch.
//   "s" name                            -> version u64, next_ms i64, topic length u32, topic, body
//   "w" next_ms (u64 BE) name           -> empty   [due index; absent when next_ms is none]
//   "l" topic \0 name                   -> empty   [listing by topic]
#include <cstring>

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {
namespace {

std::string RecordKey(std::string_view name) { return "s" + std::string(name); }

std::string DueKey(int64_t next_ms, std::string_view name) {
  std::string key(1, 'w');
  PutBigEndian(&key, static_cast<uint64_t>(std::max<int64_t>(next_ms, 0)));
  key.append(name);
  return key;
}

std::string ListKey(std::string_view topic, std::string_view name) {
  return "l" + TopicKey(topic, name);
}

template <class T>
void PutRaw(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string EncodeRecord(const ScheduleRecord& r, uint64_t version) {
  std::string out;
  out.reserve(20 + r.topic.size() + r.body.size());
  PutRaw(&out, version);
  PutRaw(&out, r.next_ms);
  PutRaw(&out, static_cast<uint32_t>(r.topic.size()));
  out.append(r.topic);
  out.append(r.body);
  return out;
}

Result<ScheduleRecord> DecodeRecord(std::string_view name, std::string_view v) {
  ScheduleRecord r;
  r.name = std::string(name);
  uint32_t topic_size = 0;
  if (v.size() < 20) return Fail(Errc::kInternal, "schedule " + r.name + ": record too short");
  std::memcpy(&r.version, v.data(), 8);
  std::memcpy(&r.next_ms, v.data() + 8, 8);
  std::memcpy(&topic_size, v.data() + 16, 4);
  if (v.size() < 20 + topic_size) {
    return Fail(Errc::kInternal, "schedule " + r.name + ": record too short");
  }
  r.topic = std::string(v.substr(20, topic_size));
  r.body = std::string(v.substr(20 + topic_size));
  return r;
}

}  // namespace

// Caller holds db_mu_ (shared).
Result<std::optional<ScheduleRecord>> RocksStore::ReadSchedule(std::string_view name) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, RecordKey(name), &value);
  if (s.IsNotFound()) return std::optional<ScheduleRecord>();
  if (!s.ok()) return ReadFailed(s);
  auto record = DecodeRecord(name, value);
  if (!record) return std::unexpected(record.error());
  return std::optional<ScheduleRecord>(std::move(*record));
}

Result<std::optional<ScheduleRecord>> RocksStore::GetSchedule(std::string_view name) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  return ReadSchedule(name);
}

Result<uint64_t> RocksStore::PutSchedule(const ScheduleRecord& record, uint64_t expected_version) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard lock(schedules_mu_);  // the version check and the write are one step
  auto old = ReadSchedule(record.name);
  if (!old) return std::unexpected(old.error());
  uint64_t current = *old ? (*old)->version : 0;
  if (current != expected_version) {
    return Fail(Errc::kConflict, "schedule " + record.name + " changed meanwhile (version " +
                                     std::to_string(current) + ")");
  }
  Batch batch;
  if (*old) {
    if ((*old)->next_ms != kNoDeadline)
      batch.Delete(meta_cf_, DueKey((*old)->next_ms, record.name));
    batch.Delete(meta_cf_, ListKey((*old)->topic, record.name));
  }
  if (record.next_ms != kNoDeadline) batch.Put(meta_cf_, DueKey(record.next_ms, record.name), "");
  batch.Put(meta_cf_, ListKey(record.topic, record.name), "");
  batch.Put(meta_cf_, RecordKey(record.name), EncodeRecord(record, current + 1));
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  return current + 1;
}

Result<bool> RocksStore::DeleteSchedule(std::string_view name) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::lock_guard lock(schedules_mu_);
  auto old = ReadSchedule(name);
  if (!old) return std::unexpected(old.error());
  if (!*old) return false;
  Batch batch;
  if ((*old)->next_ms != kNoDeadline) batch.Delete(meta_cf_, DueKey((*old)->next_ms, name));
  batch.Delete(meta_cf_, ListKey((*old)->topic, name));
  batch.Delete(meta_cf_, RecordKey(name));
  if (auto ok = Write(durable_options_, &batch); !ok) return std::unexpected(ok.error());
  return true;
}

Result<std::vector<ScheduleRecord>> RocksStore::ListSchedules(std::string_view topic,
                                                              std::string_view after_name,
                                                              size_t limit) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  // All schedules: the records themselves are in name order; one topic: its listing keys.
  std::string prefix = topic.empty() ? std::string("s") : "l" + TopicKey(topic, "");
  std::string start = prefix + std::string(after_name);
  std::vector<ScheduleRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix) && out.size() < limit;
       it->Next()) {
    std::string_view name(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    if (name == after_name) continue;
    if (topic.empty()) {
      auto record = DecodeRecord(name, it->value().ToStringView());
      if (!record) return std::unexpected(record.error());
      out.push_back(std::move(*record));
      continue;
    }
    auto record = ReadSchedule(name);
    if (!record) return std::unexpected(record.error());
    if (*record) out.push_back(std::move(**record));
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  return out;
}

Result<std::vector<ScheduleRecord>> RocksStore::DueSchedules(int64_t now_ms, size_t limit) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::vector<ScheduleRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  for (it->Seek("w"); it->Valid() && it->key().starts_with("w") && out.size() < limit; it->Next()) {
    rocksdb::Slice key = it->key();
    if (key.size() < 9) continue;
    auto next_ms = static_cast<int64_t>(GetBigEndian(key.data() + 1));
    if (next_ms > now_ms) break;
    auto record = ReadSchedule(std::string_view(key.data() + 9, key.size() - 9));
    if (!record) return std::unexpected(record.error());
    if (*record) out.push_back(std::move(**record));
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  return out;
}

Result<int64_t> RocksStore::NextScheduleMs() {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  it->Seek("w");
  if (it->Valid() && it->key().starts_with("w") && it->key().size() >= 9) {
    return static_cast<int64_t>(GetBigEndian(it->key().data() + 1));
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  return kNoDeadline;
}

}  // namespace delayq::store::rocks
