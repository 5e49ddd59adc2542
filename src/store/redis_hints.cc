// The next-due index of the Redis store ("hints": per lane the earliest due time) written
// beside the task writes: in the same script on a single server, as separate scripts on the
// global slot in a cluster, and repaired from the lanes by ReconcileHints.

#include <map>

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

using Type = RedisReply::Type;

// A write under the hint protocol (docs/ARCHITECTURE.md): `before` lowers the next-due
// index, `writes` change the tasks, `after` lowers it again and bumps the generations. On
// a single server `before` and `after` are empty (the scripts keep the index themselves).
// `before` failing applies nothing: every write answers kUnavailable. `after` failing
// once the writes are done is not their failure: the index may then be late for those
// tasks, which the purge walk repairs (ReconcileHints).
std::vector<Result<RedisReply>> RedisStore::HintedWrites(const std::vector<RedisCommand>& before,
                                                         const std::vector<RedisCommand>& writes,
                                                         const std::vector<RedisCommand>& after,
                                                         bool wait_for_replicas) {
  for (auto& result : redis_->PipelineEach(Pointers(before))) {
    if (!result || result->IsError()) {
      Error error = result ? ReplyError(*result, "next-due index")
                           : Error{Errc::kUnavailable, result.error().message};
      error.message += " (nothing applied)";
      return std::vector<Result<RedisReply>>(writes.size(), std::unexpected(error));
    }
  }
  std::vector<Result<RedisReply>> written =
      redis_->PipelineEach(Pointers(writes), wait_for_replicas);
  bool applied = std::any_of(written.begin(), written.end(),
                             [](const auto& result) { return result.has_value(); });
  if (applied && !after.empty()) {
    for (auto& result : redis_->PipelineEach(Pointers(after))) {
      if (!result || result->IsError()) {
        hint_failures_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
  }
  return written;
}

// A cluster add's first phase (the id index and the lowered hints) and its last (the
// hints again, with the generations bumped).
std::pair<std::vector<RedisCommand>, std::vector<RedisCommand>> RedisStore::ClusterAddHints(
    std::span<const Task> tasks, TaskId max_id) {
  std::map<std::pair<char, std::string_view>, int64_t> earliest;  // (kind, topic) -> due
  // One HSET per index hash (a batch's ids mostly share one: same node, same ms).
  std::map<std::string, RedisCommand> index_writes;
  for (const Task& task : tasks) {
    auto key = std::make_pair(KindDigit(task.kind), std::string_view(task.topic));
    auto [it, inserted] = earliest.emplace(key, task.due_at_ms);
    if (!inserted) it->second = std::min(it->second, task.due_at_ms);
    std::string index = IndexKey(task.id);
    auto [write, fresh] = index_writes.try_emplace(index, RedisCommand{{"HSET", index}, index});
    write->second.args.push_back(IndexField(task.id));
    write->second.args.push_back(std::string(1, KindDigit(task.kind)) + task.topic);
  }
  std::vector<RedisCommand> before;
  for (auto& [index, write] : index_writes) before.push_back(std::move(write));
  std::vector<std::string> triples;
  for (const auto& [key, due] : earliest) {
    triples.push_back(std::string(1, key.first));
    triples.push_back(std::string(key.second));
    triples.push_back(std::to_string(due));
  }
  before.push_back(HintCommand(false, std::to_string(max_id), triples));
  return {std::move(before), {HintCommand(true, "", triples)}};
}

std::vector<std::string> RedisStore::HintTriple(DeliveryKind kind, const std::string& topic,
                                                int64_t score) {
  return {std::string(1, KindDigit(kind)), topic, std::to_string(score)};
}

// A Redis Cluster only: an instance that dies between a write's task script and its
// last hint step (docs/ARCHITECTURE.md, "hint protocol") can leave a lane's earliest
// entry below what the next-due index says, and nothing else would lower the index until
// the next write to that lane: the task would wait. The purge walk over the topics
// lowers the index to each visited lane's earliest entry (ZADD LT: the index may only be
// early), so such a task is found within one pass. Two round trips per page of topics.
Result<void> RedisStore::ReconcileHints(const std::vector<RedisReply>& topics) {
  if (topics.empty()) return {};
  std::vector<RedisCommand> reads;
  for (const RedisReply& topic : topics) {
    for (DeliveryKind kind : {DeliveryKind::kPull, DeliveryKind::kCallback}) {
      reads.push_back(RedisCommand{{"ZRANGE", Lane(topic.str, kind), "0", "0", "WITHSCORES"},
                                   Prefix(topic.str)});
    }
  }
  auto firsts = redis_->Pipeline(reads);
  if (!firsts) return std::unexpected(firsts.error());
  std::vector<std::string> triples;
  for (size_t i = 0; i < reads.size(); ++i) {
    const RedisReply& first = (*firsts)[i];
    if (first.IsError()) return std::unexpected(ReplyError(first, "purge (hints)"));
    if (first.elements.size() < 2) continue;
    auto kind = i % 2 == 0 ? DeliveryKind::kPull : DeliveryKind::kCallback;
    auto triple = HintTriple(kind, topics[i / 2].str, ParseScore(first.elements[1].str));
    triples.insert(triples.end(), triple.begin(), triple.end());
  }
  if (triples.empty()) return {};
  auto hinted = redis_->Run(HintCommand(false, "", triples));
  if (!hinted) return std::unexpected(hinted.error());
  if (hinted->IsError()) return std::unexpected(ReplyError(*hinted, "purge (hints)"));
  return {};
}

RedisCommand RedisStore::HintCommand(bool bump, std::string max_id,
                                     const std::vector<std::string>& triples) {
  std::vector<std::string> args{bump ? "1" : "0", std::move(max_id)};
  args.insert(args.end(), triples.begin(), triples.end());
  return ScriptCommand(scripts::Hint(), {kNextPull, kNextCallback, kGen, kTopics, kMaxId},
                       std::move(args));
}

}  // namespace delayq::store::redis
