// Dead tasks of a topic in bulk (redrive all, delete all): one script on the topic's keys per
// call (dead_bulk.lua), a bounded slice of its dead index.

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

namespace {

Result<DeadBulkResult> ParseBulk(const RedisReply& reply, std::vector<TaskId>* ids) {
  if (reply.IsError() || reply.elements.size() < 2) {
    return std::unexpected(ReplyError(reply, "dead tasks in bulk"));
  }
  DeadBulkResult result;
  result.count = static_cast<size_t>(reply.elements[0].integer);
  result.more = reply.elements[1].integer != 0;
  for (size_t i = 2; i < reply.elements.size(); ++i) {
    TaskId id = 0;
    if (ParseNumber(reply.elements[i].str, id)) ids->push_back(id);
  }
  return result;
}

}  // namespace

Result<DeadBulkResult> RedisStore::RedriveDead(std::string_view topic, size_t limit,
                                               int64_t now_ms) {
  std::string name(topic);
  RedisCommand command = ScriptCommand(scripts::DeadBulk(), TaskScriptKeys(name),
                                       {"redrive", std::to_string(limit), std::to_string(now_ms)});
  // In a cluster the next-due index is lowered around the script (the hint protocol); the
  // script does not say which lanes it filled, so both are: an early hint only costs a look.
  std::vector<RedisCommand> before, after;
  if (redis_->cluster()) {
    std::vector<std::string> triples;
    for (DeliveryKind kind : {DeliveryKind::kPull, DeliveryKind::kCallback}) {
      auto triple = HintTriple(kind, name, now_ms);
      triples.insert(triples.end(), triple.begin(), triple.end());
    }
    before.push_back(HintCommand(false, "", triples));
    after.push_back(HintCommand(true, "", triples));
  }
  auto replies = HintedWrites(before, {command}, after);
  if (!replies.front()) return std::unexpected(replies.front().error());
  std::vector<TaskId> ids;
  return ParseBulk(*replies.front(), &ids);
}

Result<DeadBulkResult> RedisStore::DeleteDead(std::string_view topic, size_t limit,
                                              int64_t now_ms) {
  std::string name(topic);
  auto reply =
      redis_->Run(ScriptCommand(scripts::DeadBulk(), TaskScriptKeys(name),
                                {"delete", std::to_string(limit), std::to_string(now_ms)}));
  if (!reply) return std::unexpected(reply.error());
  std::vector<TaskId> ids;
  auto result = ParseBulk(*reply, &ids);
  if (!result) return result;
  // The id index entries, as the purge drops them: a failure here leaves entries that point
  // to no task, which reads answer as "not found" anyway.
  std::vector<RedisCommand> unlink;
  for (TaskId id : ids) unlink.push_back(IndexDelete(id));
  if (!unlink.empty()) (void)redis_->Pipeline(unlink);
  {
    std::lock_guard lock(cache_mu_);
    for (TaskId id : ids) topic_cache_.erase(id);
  }
  return result;
}

}  // namespace delayq::store::redis
