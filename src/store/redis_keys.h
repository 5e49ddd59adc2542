#pragma once

// The Redis store's key layout (docs/ARCHITECTURE.md, "Redis layout"), its tunables and the
// number parsing its replies need. For redis_*.cc only.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "queue/ids.h"
#include "queue/task.h"
#include "store/redis_client.h"

namespace delayq::store::redis {

// Global keys share one hash tag, so that the scripts on them run on one cluster node.
inline const std::string kGlobal = "dq:{dq}:";
inline const std::string kNextPull = kGlobal + "next:p";
inline const std::string kNextCallback = kGlobal + "next:c";
inline const std::string kGen = kGlobal + "gen";
inline const std::string kTopics = kGlobal + "topics";
inline const std::string kMaxId = kGlobal + "maxid";
// The key layout this build reads and writes (docs/ARCHITECTURE.md, "Redis layout"), kept
// in Redis so that a build never misreads data written in another layout. "2": id index
// in hashes (`dq:ix:`), task hashes without zero-valued fields. Data without the marker
// comes from builds before 2026-11-26 (`dq:id:` keys).
inline const std::string kLayout = kGlobal + "layout";
constexpr std::string_view kLayoutVersion = "2";

// Lanes looked at per Promote, and how far back "newly due" pull lanes are looked for
// (covers clock differences between instances and a Promote that came late).
constexpr int kPromoteLanes = 1000;
constexpr int64_t kNewlyDueSlackMs = 2000;
// Topics visited per PurgeFinished call at most.
constexpr int kPurgeTopicsPerCall = 200;
// The id -> topic cache saves a round trip per ack; cleared when it grows past this.
constexpr size_t kTopicCacheMax = 200'000;
constexpr uint32_t kMaxNode = 1023;

inline std::string Prefix(std::string_view topic) { return "dq:{" + std::string(topic) + "}:"; }
// The id index: which topic (and lane) task ID is in. Ids minted by one node in one
// millisecond share a hash (key: the id without its 12 sequence bits; field: the sequence),
// instead of a key per task: a top-level key per task cost ~20 % of the add script's time
// in Redis and ~50 B per task (BENCHMARKS.md, distributed mode).
inline std::string IndexKey(TaskId id) {
  return "dq:ix:" + std::to_string(id >> IdGenerator::kSequenceBits);
}
inline std::string IndexField(TaskId id) { return std::to_string(id & IdGenerator::kMaxSequence); }
inline RedisCommand IndexGet(TaskId id) {
  std::string key = IndexKey(id);
  return RedisCommand{{"HGET", key, IndexField(id)}, key};
}
inline RedisCommand IndexDelete(TaskId id) {
  std::string key = IndexKey(id);
  return RedisCommand{{"HDEL", key, IndexField(id)}, key};
}
inline char KindDigit(DeliveryKind kind) { return kind == DeliveryKind::kCallback ? '1' : '0'; }
inline const std::string& NextKey(DeliveryKind kind) {
  return kind == DeliveryKind::kCallback ? kNextCallback : kNextPull;
}
inline std::string Lane(std::string_view topic, DeliveryKind kind) {
  return Prefix(topic) + (kind == DeliveryKind::kCallback ? "due:c" : "due:p");
}
inline std::string GenField(std::string_view topic, DeliveryKind kind) {
  return std::string(1, KindDigit(kind)) + ":" + std::string(topic);
}
inline std::string Pad(TaskId id) {
  std::string digits = std::to_string(id);
  return std::string(20 - digits.size(), '0') + digits;
}

template <class T>
inline bool ParseNumber(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Scores come back as Redis formats doubles ("1800000000000", or "1.8e+12" style never for
// integers below 2^53, but be tolerant).
inline int64_t ParseScore(const std::string& text) {
  int64_t value = 0;
  if (ParseNumber(text, value)) return value;
  return static_cast<int64_t>(std::stod(text));
}

}  // namespace delayq::store::redis
