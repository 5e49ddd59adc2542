// Due tasks in the Redis store: Promote finds the lanes the next-due index says are due, and
// the claim script takes their tasks (consume, lease, callback claim, by id).

#include <unordered_set>

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

using Type = RedisReply::Type;

// Which candidate lanes are due: those whose lowest entry is; the others get their index
// entry fixed (FixHint) and lower `next` to their own next due time.
Result<void> RedisStore::CheckLanes(const std::vector<std::pair<std::string, DeliveryKind>>& lanes,
                                    int64_t now_ms, PromoteResult& result, int64_t& next) {
  // The generations are read before the lanes, so that a fix never hides a write that
  // happened after the lane was read (docs/ARCHITECTURE.md, "hint protocol").
  RedisCommand gens{{"HMGET", kGen}, kGlobal};
  std::vector<RedisCommand> checks;
  for (const auto& [topic, kind] : lanes) {
    gens.args.push_back(GenField(topic, kind));
    checks.push_back(
        RedisCommand{{"ZRANGE", Lane(topic, kind), "0", "0", "WITHSCORES"}, Prefix(topic)});
    checks.push_back(RedisCommand{{"EXISTS", Prefix(topic) + "paused"}, Prefix(topic)});
  }
  auto read = redis_->Phases({{gens}, checks});
  if (!read) return std::unexpected(read.error());
  if ((*read)[0][0].IsError()) return std::unexpected(ReplyError((*read)[0][0], "promote"));
  std::vector<RedisCommand> fixes;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const auto& [topic, kind] = lanes[i];
    const RedisReply& min = (*read)[1][2 * i];
    const RedisReply& paused = (*read)[1][2 * i + 1];
    const RedisReply& gen = (*read)[0][0].elements[i];
    std::string seen = gen.IsNil() ? "0" : gen.str;
    if (min.IsError()) return std::unexpected(ReplyError(min, "promote"));
    if (min.elements.size() >= 2 && ParseScore(min.elements[1].str) <= now_ms) {
      // A paused topic's due lane is not reported (and its entry, which is right, stays):
      // every poll looks at it again, so its resume is seen within one poll.
      if (paused.integer == 1) continue;
      auto& ready =
          kind == DeliveryKind::kCallback ? result.callback_topics_ready : result.topics_ready;
      ready.push_back(topic);
      continue;
    }
    std::string lowest = min.elements.size() >= 2 ? min.elements[1].str : "";
    if (!lowest.empty()) next = std::min(next, ParseScore(lowest));
    fixes.push_back(ScriptCommand(scripts::FixHint(), {NextKey(kind), kGen},
                                  {topic, GenField(topic, kind), seen, lowest}));
  }
  if (!fixes.empty()) {
    auto fixed = redis_->Pipeline(fixes);
    if (!fixed) return std::unexpected(fixed.error());
  }
  return {};
}

Result<PromoteResult> RedisStore::Promote(int64_t now_ms) {
  PromoteResult result;
  std::string now = std::to_string(now_ms);
  std::string limit = std::to_string(kPromoteLanes);
  int64_t since = std::min(last_promote_ms_, now_ms) - kNewlyDueSlackMs;
  last_promote_ms_ = now_ms;
  std::vector<RedisCommand> reads{
      {{"ZRANGEBYSCORE", kNextCallback, "-inf", now, "WITHSCORES", "LIMIT", "0", limit}, kGlobal},
      {{"ZRANGEBYSCORE", kNextPull, "-inf", now, "WITHSCORES", "LIMIT", "0", limit}, kGlobal},
      {{"ZRANGEBYSCORE", kNextPull, "(" + std::to_string(since), now, "WITHSCORES", "LIMIT", "0",
        limit},
       kGlobal},
      {{"ZRANGEBYSCORE", kNextCallback, "(" + now, "+inf", "WITHSCORES", "LIMIT", "0", "1"},
       kGlobal},
      {{"ZRANGEBYSCORE", kNextPull, "(" + now, "+inf", "WITHSCORES", "LIMIT", "0", "1"}, kGlobal},
  };
  auto replies = redis_->Pipeline(reads);
  if (!replies) return std::unexpected(replies.error());
  for (const RedisReply& reply : *replies) {
    if (reply.IsError()) return std::unexpected(ReplyError(reply, "promote"));
  }
  int64_t next = now_ms + config_.redis_poll_ms;
  for (size_t r = 3; r < 5; ++r) {
    const auto& elements = (*replies)[r].elements;
    if (elements.size() >= 2) next = std::min(next, ParseScore(elements[1].str));
  }
  // Candidate lanes; each is checked against its lane, since the index may be stale.
  std::vector<std::pair<std::string, DeliveryKind>> lanes;
  std::unordered_set<std::string> seen_pull;
  for (size_t i = 0; i + 1 < (*replies)[0].elements.size(); i += 2) {
    lanes.emplace_back((*replies)[0].elements[i].str, DeliveryKind::kCallback);
  }
  for (size_t r = 1; r <= 2; ++r) {
    const auto& elements = (*replies)[r].elements;
    for (size_t i = 0; i + 1 < elements.size(); i += 2) {
      if (seen_pull.insert(elements[i].str).second) {
        lanes.emplace_back(elements[i].str, DeliveryKind::kPull);
      }
    }
  }
  if (!lanes.empty()) {
    if (auto checked = CheckLanes(lanes, now_ms, result, next); !checked) {
      return std::unexpected(checked.error());
    }
  }
  result.promoted = result.topics_ready.size() + result.callback_topics_ready.size();
  result.next_wake_ms = std::max(next, now_ms + 1);
  return result;
}

bool RedisStore::HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) {
  std::string p = Prefix(topic);
  std::vector<RedisCommand> reads{
      {{"ZRANGEBYSCORE", Lane(topic, kind), "-inf", std::to_string(now_ms), "LIMIT", "0", "1"}, p},
      {{"EXISTS", p + "paused"}, p}};
  auto replies = redis_->Pipeline(reads);
  if (!replies || replies->size() != 2) return false;
  const RedisReply& due = (*replies)[0];
  return due.type == Type::kArray && !due.elements.empty() && (*replies)[1].integer == 0;
}

Result<std::vector<Task>> RedisStore::ConsumeDue(std::string_view topic, size_t max,
                                                 int64_t now_ms) {
  auto taken = RunClaim(topic, DeliveryKind::kPull, max, now_ms, 0);
  if (taken) consumed_.fetch_add(taken->size(), std::memory_order_relaxed);
  return taken;
}

Result<Task> RedisStore::ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) {
  auto reply = redis_->Run(ScriptCommand(scripts::ConsumeById(), {Prefix(topic)},
                                         {std::to_string(id), std::to_string(now_ms)}));
  if (!reply) return std::unexpected(reply.error());
  auto task = TaskFromScript(topic, id, *reply);
  if (task) consumed_.fetch_add(1, std::memory_order_relaxed);
  return task;
}

Result<std::vector<Task>> RedisStore::ClaimDue(std::string_view topic, DeliveryKind kind,
                                               size_t max, int64_t now_ms, int64_t lease_until_ms) {
  return RunClaim(topic, kind, max, now_ms, std::max<int64_t>(lease_until_ms, now_ms + 1));
}

// Leases live in the lanes themselves (scored by their deadline), so a claim takes an
// expired lease like any due task; nothing to do here.
Result<size_t> RedisStore::ExpireLeases(int64_t, size_t) { return size_t{0}; }

Result<std::vector<Task>> RedisStore::RunClaim(std::string_view topic, DeliveryKind kind,
                                               size_t max, int64_t now_ms, int64_t lease_until_ms) {
  if (max == 0) return std::vector<Task>{};
  bool consume = lease_until_ms == 0;
  std::vector<std::string> args{std::to_string(now_ms), std::to_string(max),
                                std::to_string(lease_until_ms), consume ? "C" : "L",
                                std::string(1, KindDigit(kind))};
  if (!consume) {
    std::lock_guard lock(rng_mu_);
    for (size_t i = 0; i < max; ++i) {
      uint64_t token = 0;
      while (token == 0) token = rng_();
      args.push_back(std::to_string(token));
    }
  }
  std::string field = GenField(topic, kind);
  if (!redis_->cluster()) {
    // One atomic script claims and points the next-due entry at what is left.
    auto reply = redis_->Run(
        ScriptCommand(scripts::Claim(), {Prefix(topic), NextKey(kind)}, std::move(args)));
    if (!reply) return std::unexpected(reply.error());
    if (reply->IsError() || reply->elements.size() != 3) {
      return std::unexpected(ReplyError(*reply, "claim"));
    }
    return DecodeClaimed(topic, kind, *reply);
  }
  auto replies =
      redis_->Phases({{RedisCommand{{"HGET", kGen, field}, kGlobal}},
                      {ScriptCommand(scripts::Claim(), {Prefix(topic)}, std::move(args))}});
  if (!replies) return std::unexpected(replies.error());
  const RedisReply& gen = (*replies)[0][0];
  const RedisReply& claim = (*replies)[1][0];
  if (gen.IsError()) return std::unexpected(ReplyError(gen, "claim"));
  if (claim.IsError() || claim.elements.size() != 3)
    return std::unexpected(ReplyError(claim, "claim"));
  auto out = DecodeClaimed(topic, kind, claim);
  if (!out) return out;
  // Point the index at what the lane holds now: the next due task or lease deadline.
  auto fixed = redis_->Run(ScriptCommand(
      scripts::FixHint(), {NextKey(kind), kGen},
      {std::string(topic), field, gen.IsNil() ? "0" : gen.str, claim.elements[0].str}));
  if (!fixed) return std::unexpected(fixed.error());
  return out;
}

Result<std::vector<Task>> RedisStore::DecodeClaimed(std::string_view topic, DeliveryKind kind,
                                                    const RedisReply& claim) {
  std::vector<Task> out;
  for (const RedisReply& fields : claim.elements[2].elements) {
    auto task = DecodeFields(topic, fields);
    if (!task) return std::unexpected(task.error());
    RememberTopic(task->id, kind, task->topic);
    out.push_back(std::move(*task));
  }
  return out;
}

}  // namespace delayq::store::redis
