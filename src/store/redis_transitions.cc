// Per-task scripts of the Redis store (ack, nack, extend, settle, cancel, reschedule,
// redrive): the task's topic from the id index, then one script on the topic's keys. The
// scripts check who may do what; a refusal is worded by queue/transitions.h, as on RocksDB.

#include "queue/transitions.h"
#include "store/redis_store_impl.h"

namespace delayq::store::redis {

using Type = RedisReply::Type;

Result<Task> RedisStore::Ack(TaskId id, uint64_t lease_token, int64_t now_ms) {
  return RunTaskScript(scripts::Ack(), id, {std::to_string(lease_token), std::to_string(now_ms)},
                       std::nullopt,
                       [lease_token](const Task& task) { return CheckLease(task, lease_token); });
}

Result<Task> RedisStore::Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms,
                              std::string_view reason, int64_t now_ms) {
  return RunTaskScript(scripts::Nack(), id,
                       {std::to_string(lease_token), std::to_string(retry_at_ms),
                        std::string(reason), std::to_string(now_ms)},
                       retry_at_ms,
                       [lease_token](const Task& task) { return CheckLease(task, lease_token); });
}

Result<Task> RedisStore::ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                                     int64_t now_ms) {
  return RunTaskScript(
      scripts::Extend(), id,
      {std::to_string(lease_token), std::to_string(lease_until_ms), std::to_string(now_ms)},
      std::nullopt,
      [lease_token, now_ms](const Task& task) { return CheckExtend(task, lease_token, now_ms); });
}

// A round's acks and nacks: one pipeline (one round trip on a single server) instead of
// a round trip each; per entry exactly what Ack or Nack would answer.
std::vector<Result<Task>> RedisStore::Settle(std::span<const Settlement> settlements,
                                             int64_t now_ms) {
  std::vector<Result<Task>> results(settlements.size());
  std::vector<std::optional<Where>> where(settlements.size());
  std::vector<RedisCommand> lookups;
  std::vector<size_t> looked_up;
  {
    std::lock_guard lock(cache_mu_);
    for (size_t i = 0; i < settlements.size(); ++i) {
      auto it = topic_cache_.find(settlements[i].id);
      if (it != topic_cache_.end()) {
        where[i] = it->second;
      } else {
        lookups.push_back(IndexGet(settlements[i].id));
        looked_up.push_back(i);
      }
    }
  }
  auto fail_all = [&](const Error& error) {
    for (auto& result : results) result = std::unexpected(error);
    return results;
  };
  if (!lookups.empty()) {
    auto found = redis_->Pipeline(lookups);
    if (!found) return fail_all(found.error());
    for (size_t k = 0; k < looked_up.size(); ++k) {
      const RedisReply& reply = (*found)[k];
      if (reply.IsError()) return fail_all(ReplyError(reply, "settle"));
      where[looked_up[k]] = ParseIndexValue(reply);
    }
  }
  bool single = !redis_->cluster();
  std::vector<RedisCommand> before, scripts_to_run, after;
  std::vector<size_t> sent;
  std::string now = std::to_string(now_ms);
  for (size_t i = 0; i < settlements.size(); ++i) {
    const Settlement& s = settlements[i];
    if (!where[i]) {
      results[i] = std::unexpected(TaskNotFound(s.id));
      continue;
    }
    std::vector<std::string> args{std::to_string(s.id), std::to_string(s.lease_token)};
    if (s.ok) {
      args.push_back(now);
    } else {
      args.insert(args.end(), {std::to_string(s.retry_at_ms), s.reason, now});
      if (!single) {
        std::vector<std::string> triple =
            HintTriple(where[i]->kind, where[i]->topic, s.retry_at_ms);
        before.push_back(HintCommand(false, "", triple));
        after.push_back(HintCommand(true, "", triple));
      }
    }
    scripts_to_run.push_back(ScriptCommand(s.ok ? scripts::Ack() : scripts::Nack(),
                                           TaskScriptKeys(where[i]->topic), std::move(args)));
    sent.push_back(i);
  }
  if (sent.empty()) return results;
  auto replies = HintedWrites(before, scripts_to_run, after);
  for (size_t k = 0; k < sent.size(); ++k) {
    size_t i = sent[k];
    uint64_t token = settlements[i].lease_token;
    results[i] = replies[k]
                     ? TaskFromScript(where[i]->topic, settlements[i].id, *replies[k],
                                      [token](const Task& task) { return CheckLease(task, token); })
                     : Result<Task>(std::unexpected(replies[k].error()));
  }
  return results;
}

Result<Task> RedisStore::Cancel(TaskId id, int64_t now_ms) {
  return RunTaskScript(scripts::Cancel(), id, {std::to_string(now_ms)}, std::nullopt,
                       [](const Task& task) { return CheckScheduled(task, "cancelled"); });
}

Result<Task> RedisStore::Reschedule(TaskId id, int64_t due_at_ms, int64_t now_ms) {
  return RunTaskScript(scripts::Reschedule(), id,
                       {std::to_string(due_at_ms), std::to_string(now_ms)}, due_at_ms,
                       [](const Task& task) { return CheckScheduled(task, "rescheduled"); });
}

Result<Task> RedisStore::Redrive(TaskId id, int64_t now_ms) {
  return RunTaskScript(scripts::Redrive(), id, {std::to_string(now_ms)}, now_ms,
                       [](const Task& task) { return CheckDead(task); });
}

// The keys of a per-task script: the topic's prefix, and on a single server the global
// keys its due_again() keeps the next-due index with.
std::vector<std::string> RedisStore::TaskScriptKeys(const std::string& topic) const {
  std::vector<std::string> keys{Prefix(topic)};
  if (!redis_->cluster()) keys.insert(keys.end(), {kNextPull, kNextCallback, kGen});
  return keys;
}

// An id index value: the kind digit, then the topic.
std::optional<RedisStore::Where> RedisStore::ParseIndexValue(const RedisReply& reply) {
  if (reply.IsNil() || reply.str.size() < 2) return std::nullopt;
  return Where{reply.str.substr(1),
               reply.str[0] == '1' ? DeliveryKind::kCallback : DeliveryKind::kPull};
}

void RedisStore::RememberTopic(TaskId id, DeliveryKind kind, const std::string& topic) {
  std::lock_guard lock(cache_mu_);
  if (topic_cache_.size() >= kTopicCacheMax) topic_cache_.clear();
  topic_cache_[id] = Where{topic, kind};
}

Result<RedisStore::Where> RedisStore::TopicOf(TaskId id) {
  {
    std::lock_guard lock(cache_mu_);
    auto it = topic_cache_.find(id);
    if (it != topic_cache_.end()) return it->second;
  }
  auto reply = redis_->Run(IndexGet(id));
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "get"));
  std::optional<Where> where = ParseIndexValue(*reply);
  if (!where) return std::unexpected(TaskNotFound(id));
  RememberTopic(id, where->kind, where->topic);
  return *where;
}

// Runs a per-task script. `due_again_at`: the task may be due again at this time, so the
// next-due index is lowered before and after (hint protocol).
Result<Task> RedisStore::RunTaskScript(const RedisScript& script, TaskId id,
                                       std::vector<std::string> args,
                                       std::optional<int64_t> due_again_at,
                                       const Refusal& refusal) {
  auto where = TopicOf(id);
  if (!where) return std::unexpected(where.error());
  args.insert(args.begin(), std::to_string(id));
  RedisCommand command = ScriptCommand(script, TaskScriptKeys(where->topic), std::move(args));
  std::vector<RedisCommand> before, after;
  if (due_again_at && redis_->cluster()) {
    std::vector<std::string> triple = HintTriple(where->kind, where->topic, *due_again_at);
    before.push_back(HintCommand(false, "", triple));
    after.push_back(HintCommand(true, "", triple));
  }
  auto replies = HintedWrites(before, {command}, after);
  if (!replies.front()) return std::unexpected(replies.front().error());
  RedisReply reply = std::move(*replies.front());
  return TaskFromScript(where->topic, id, reply, refusal);
}

}  // namespace delayq::store::redis
