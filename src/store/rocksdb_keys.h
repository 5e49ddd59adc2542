#pragma once

// The embedded store's on-disk keys and values, and the merge operator of its counters: the
// layout every RocksStore read and write agrees on. For rocksdb_*.cc only.

#include <rocksdb/merge_operator.h>
#include <rocksdb/slice.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "queue/near_window.h"
#include "queue/task.h"

namespace delayq::store::rocks {

// Column families (docs/ARCHITECTURE.md):
//   default:  "n" topic \0 state(u8)              -> i64 count (merge: add)
//             "P" topic                          -> i64 paused_at_ms  [paused topics]
//   tasks:    id (u64 BE)                         -> record (record_codec.h)
//   due:      due_at_ms (u64 BE), id (u64 BE)     -> kind (u8), topic   [scheduled tasks]
//   leases:   lease_until_ms (u64 BE), id (BE)    -> empty              [leased tasks]
//   finished: finished_at_ms (u64 BE), id (BE)    -> empty              [retention index]
//   dead:     topic \0 id (u64 BE)                -> empty              [dead letters]
//   dedup:    topic \0 dedup_key                  -> id (u64 BE)
// Big-endian so that bytewise key order is numeric order and "what is due" is a range scan.

constexpr const char* kTasksCf = "tasks";
constexpr const char* kDueCf = "due";
constexpr const char* kLeasesCf = "leases";
constexpr const char* kFinishedCf = "finished";
constexpr const char* kDeadCf = "dead";
constexpr const char* kDedupCf = "dedup";

inline void PutBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline uint64_t GetBigEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline std::string TaskKey(TaskId id) {
  std::string key;
  PutBigEndian(&key, id);
  return key;
}

// Times are clamped at 0: the API never stores negative instants, and a negative value
// must not wrap around to the end of the index.
inline std::string TimeIdKey(int64_t ms, TaskId id) {
  std::string key;
  key.reserve(16);
  PutBigEndian(&key, static_cast<uint64_t>(std::max<int64_t>(ms, 0)));
  PutBigEndian(&key, id);
  return key;
}

inline DueKey DecodeTimeIdKey(const rocksdb::Slice& key) {
  return DueKey{static_cast<int64_t>(GetBigEndian(key.data())), GetBigEndian(key.data() + 8)};
}

inline std::string DueValue(const Task& task) {
  std::string value;
  value.reserve(1 + task.topic.size());
  value.push_back(static_cast<char>(task.kind));
  value.append(task.topic);
  return value;
}

// Topic names cannot contain \0, so "topic \0 suffix" keys of different topics never
// share a prefix.
inline std::string TopicKey(std::string_view topic, std::string_view suffix) {
  std::string key;
  key.reserve(topic.size() + 1 + suffix.size());
  key.append(topic).push_back('\0');
  key.append(suffix);
  return key;
}

inline std::string DeadKey(std::string_view topic, TaskId id) {
  return TopicKey(topic, TaskKey(id));
}

constexpr char kCountPrefix = 'n';

inline std::string CountKey(std::string_view topic, TaskState state) {
  std::string key(1, kCountPrefix);
  key.append(topic).push_back('\0');
  key.push_back(static_cast<char>(state));
  return key;
}

// Uppercase: "p" would meet the readiness probe's key "probe" (topic "robe").
constexpr char kPausedPrefix = 'P';

inline std::string PausedKey(std::string_view topic) {
  std::string key(1, kPausedPrefix);
  key.append(topic);
  return key;
}

inline std::string EncodeInt64(int64_t v) {
  std::string out(sizeof v, '\0');
  std::memcpy(out.data(), &v, sizeof v);
  return out;
}

inline int64_t DecodeInt64(const rocksdb::Slice& s) {
  int64_t v = 0;
  if (s.size() == sizeof v) std::memcpy(&v, s.data(), sizeof v);
  return v;
}

// Per-topic state counters are kept with RocksDB merges in the same batch as the state
// change, so they are exact after any crash and GET /v1/topics needs no scan of tasks.
class Int64AddOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    int64_t sum = (existing ? DecodeInt64(*existing) : 0) + DecodeInt64(value);
    *new_value = EncodeInt64(sum);
    return true;
  }
  const char* Name() const override { return "delayq.Int64Add"; }
};

}  // namespace delayq::store::rocks
