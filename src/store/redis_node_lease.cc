// The node number of a Redis-backed instance: leased from Redis under a random owner token
// and renewed by a thread; once lost, adds are refused until a restart.

#include <spdlog/spdlog.h>

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

using Type = RedisReply::Type;

Result<uint32_t> RedisStore::AcquireNodeId(uint32_t configured) {
  {
    std::lock_guard lock(rng_mu_);
    node_owner_ = std::to_string(rng_()) + "-" + std::to_string(rng_());
  }
  std::string ttl = std::to_string(config_.redis_node_lease_ms);
  for (uint32_t k = 0; k <= kMaxNode; ++k) {
    uint32_t node = (configured + k) % (kMaxNode + 1);
    auto reply =
        redis_->Run(ScriptCommand(scripts::RenewNode(), {NodeKey(node)}, {node_owner_, ttl}));
    if (!reply) return std::unexpected(reply.error());
    if (reply->IsError()) return std::unexpected(ReplyError(*reply, "node lease"));
    if (reply->integer == 1) {
      node_id_ = node;
      node_acquired_ = true;
      renewer_.Start([this] { RenewLoop(); });
      return node;
    }
  }
  return Fail(Errc::kUnavailable, "redis: all 1024 node numbers are leased by live instances");
}

std::string RedisStore::NodeKey(uint32_t node) { return kGlobal + "node:" + std::to_string(node); }

void RedisStore::RenewLoop() {
  std::string ttl = std::to_string(config_.redis_node_lease_ms);
  while (renewer_.SleepFor(std::chrono::milliseconds(config_.redis_node_lease_ms / 3))) {
    auto reply =
        redis_->Run(ScriptCommand(scripts::RenewNode(), {NodeKey(node_id_)}, {node_owner_, ttl}));
    // The layout marker again, in case the database was emptied under running instances
    // (FLUSHDB): otherwise their next start would take the new data for an older layout.
    (void)redis_->Run(RedisCommand{{"SET", kLayout, std::string(kLayoutVersion), "NX"}, kGlobal});
    if (!reply || reply->IsError()) continue;  // Redis away: try again; adds fail meanwhile anyway
    if (reply->integer != 1 && !node_lost_) {
      node_lost_ = true;
      spdlog::critical(
          "msg=\"node number lease lost to another instance; adds refused until restart\" "
          "node_id={}",
          node_id_);
    }
  }
}

}  // namespace delayq::store::redis
