// Paused topics of the Redis store: the key dq:{T}:paused (paused_at_ms) under the topic's own
// hash tag, so that the claim scripts, which run on the topic's keys, read it atomically with
// the lane: a claim that starts after a pause on any instance takes nothing.

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

Result<void> RedisStore::SetPaused(std::string_view topic, bool paused, int64_t now_ms) {
  std::string p = Prefix(topic);
  std::vector<RedisCommand> writes;
  if (paused) {
    // NX: pausing a paused topic keeps the time it was first paused.
    writes.push_back(
        {{"SET", p + "paused", std::to_string(std::max<int64_t>(now_ms, 1)), "NX"}, p});
    // Listed by Topics also when it has no tasks yet.
    writes.push_back({{"SADD", kTopics, std::string(topic)}, kGlobal});
  } else {
    writes.push_back({{"DEL", p + "paused"}, p});
  }
  auto replies = redis_->Pipeline(writes);
  if (!replies) return std::unexpected(replies.error());
  for (const RedisReply& reply : *replies) {
    if (reply.IsError()) return std::unexpected(ReplyError(reply, "pause"));
  }
  return {};
}

}  // namespace delayq::store::redis
