#include "store/redis_store.h"

#include <chrono>
#include <map>
#include <thread>

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

using Type = RedisReply::Type;

Result<std::vector<TaskId>> RedisStore::Add(std::span<const Task> tasks) {
  std::vector<TaskId> out;
  out.reserve(tasks.size());
  for (auto& result : AddEach(tasks)) {
    if (!result) return std::unexpected(std::move(result.error()));
    out.push_back(*result);
  }
  return out;
}

// One script per topic; in a cluster the topics' scripts run on different nodes, so one
// topic's tasks can be stored while another's are not: each task gets its own outcome.
std::vector<Result<TaskId>> RedisStore::AddEach(std::span<const Task> tasks) {
  std::vector<Result<TaskId>> out(tasks.size(), TaskId{0});
  auto fail_all = [&](const Error& error) {
    for (auto& result : out) result = std::unexpected(error);
    return out;
  };
  if (node_lost_) {
    return fail_all({Errc::kUnavailable,
                     "redis: this instance lost its node number lease; restart it to lease a "
                     "new one"});
  }
  if (tasks.empty()) return out;
  // Group by topic, keeping each topic's tasks in order.
  std::map<std::string_view, std::vector<size_t>> by_topic;
  TaskId max_id = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    by_topic[tasks[i].topic].push_back(i);
    max_id = std::max(max_id, tasks[i].id);
  }
  bool single = !redis_->cluster();
  std::vector<RedisCommand> writes;
  std::vector<std::string_view> write_topics;
  for (const auto& [topic, indexes] : by_topic) {
    writes.push_back(AddScript(tasks, topic, indexes, max_id, single));
    write_topics.push_back(topic);
  }
  // A cluster keeps the global keys on another node: the id index and the lowered hints
  // go first, so that a task never exists without them; then the tasks; then the hints
  // again with the generations bumped (docs/ARCHITECTURE.md, "hint protocol"). With
  // redis.wait_replicas the scripts are followed by WAIT: unconfirmed means unknown.
  std::vector<RedisCommand> before, after;
  if (!single) std::tie(before, after) = ClusterAddHints(tasks, max_id);
  std::vector<Result<RedisReply>> written =
      HintedWrites(before, writes, after, /*wait_for_replicas=*/true);
  std::vector<RedisCommand> orphans;
  bool stored_any = false;
  for (size_t t = 0; t < writes.size(); ++t) {
    const auto& indexes = by_topic[write_topics[t]];
    const Result<RedisReply>& reply = written[t];
    std::optional<Error> error;
    if (!reply) {
      error = reply.error();
    } else if (reply->IsError() || reply->elements.size() != indexes.size()) {
      error = ReplyError(*reply, "add");
    }
    for (size_t k = 0; k < indexes.size(); ++k) {
      const Task& task = tasks[indexes[k]];
      if (error) {
        out[indexes[k]] = std::unexpected(*error);
        continue;
      }
      TaskId stored = 0;
      (void)ParseNumber(reply->elements[k].str, stored);
      out[indexes[k]] = stored;
      stored_any = true;
      // Not remembered in the id -> topic cache: a claim does that, for the ack that
      // follows; filling it on every add cost ~2.5 % of the add path (perf) for tasks
      // that mostly come back through a claim anyway.
      if (stored != task.id && !single) orphans.push_back(IndexDelete(task.id));
    }
  }
  if (!orphans.empty()) (void)redis_->Pipeline(orphans);  // best effort: dedup hits only
  if (stored_any) {
    added_batches_.fetch_add(1, std::memory_order_relaxed);
    added_tasks_.fetch_add(tasks.size(), std::memory_order_relaxed);
  }
  return out;
}

Result<Task> RedisStore::Get(TaskId id) {
  auto where = TopicOf(id);
  if (!where) return std::unexpected(where.error());
  auto reply = redis_->Run(RedisCommand{
      {"HGETALL", Prefix(where->topic) + "t:" + std::to_string(id)}, Prefix(where->topic)});
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "get"));
  auto task = DecodeFields(where->topic, *reply);
  if (!task && task.error().code == Errc::kNotFound) {
    return Fail(Errc::kNotFound, "task " + std::to_string(id) + " not found");
  }
  return task;
}

Result<std::vector<Task>> RedisStore::ListDead(std::string_view topic, TaskId after_id,
                                               size_t limit) {
  std::string from = after_id == 0 ? "-" : "(" + Pad(after_id);
  auto members = redis_->Run(RedisCommand{
      {"ZRANGEBYLEX", Prefix(topic) + "dead", from, "+", "LIMIT", "0", std::to_string(limit)},
      Prefix(topic)});
  if (!members) return std::unexpected(members.error());
  if (members->IsError()) return std::unexpected(ReplyError(*members, "list dead"));
  std::vector<RedisCommand> reads;
  for (const RedisReply& member : members->elements) {
    TaskId id = 0;
    ParseNumber(std::string_view(member.str).substr(member.str.find_first_not_of('0')), id);
    reads.push_back(
        RedisCommand{{"HGETALL", Prefix(topic) + "t:" + std::to_string(id)}, Prefix(topic)});
  }
  std::vector<Task> out;
  if (reads.empty()) return out;
  auto records = redis_->Pipeline(reads);
  if (!records) return std::unexpected(records.error());
  for (const RedisReply& record : *records) {
    auto task = DecodeFields(topic, record);
    if (task) out.push_back(std::move(*task));
  }
  return out;
}

Result<std::vector<TopicStats>> RedisStore::Topics(std::string_view topic, int64_t now_ms) {
  std::vector<std::string> names;
  if (topic.empty()) {
    auto members = redis_->Run(RedisCommand{{"SMEMBERS", kTopics}, kGlobal});
    if (!members) return std::unexpected(members.error());
    if (members->IsError()) return std::unexpected(ReplyError(*members, "topics"));
    for (const RedisReply& member : members->elements) names.push_back(member.str);
    std::sort(names.begin(), names.end());
  } else {
    names.emplace_back(topic);
  }
  std::vector<RedisCommand> reads;
  std::string now = std::to_string(now_ms);
  for (const std::string& name : names) {
    std::string p = Prefix(name);
    reads.push_back({{"HGETALL", p + "n"}, p});
    for (DeliveryKind kind : {DeliveryKind::kPull, DeliveryKind::kCallback}) {
      reads.push_back({{"ZCOUNT", Lane(name, kind), "-inf", now}, p});
      reads.push_back({{"ZRANGE", Lane(name, kind), "0", "0", "WITHSCORES"}, p});
    }
    reads.push_back({{"GET", p + "paused"}, p});
  }
  std::vector<TopicStats> out;
  if (reads.empty()) return out;
  auto replies = redis_->Pipeline(reads);
  if (!replies) return std::unexpected(replies.error());
  for (size_t t = 0; t < names.size(); ++t) {
    const RedisReply* r = &(*replies)[t * 6];
    TopicStats stats;
    stats.topic = names[t];
    for (size_t i = 0; i + 1 < r[0].elements.size(); i += 2) {
      unsigned state = 0;
      int64_t count = 0;
      if (ParseNumber(r[0].elements[i].str, state) && state < stats.by_state.size() &&
          ParseNumber(r[0].elements[i + 1].str, count)) {
        stats.by_state[state] = count;
      }
    }
    for (int k = 0; k < 2; ++k) {
      stats.due_waiting += static_cast<size_t>(std::max<long long>(r[1 + 2 * k].integer, 0));
      const auto& first = r[2 + 2 * k].elements;
      if (first.size() >= 2) {
        int64_t lateness = now_ms - ParseScore(first[1].str);
        if (lateness > 0)
          stats.oldest_due_lateness_ms = std::max(stats.oldest_due_lateness_ms, lateness);
      }
    }
    if (!r[5].IsNil() && ParseNumber(r[5].str, stats.paused_at_ms)) stats.paused = true;
    out.push_back(std::move(stats));
  }
  return out;
}

Result<size_t> RedisStore::PurgeFinished(int64_t finished_before_ms, size_t limit) {
  size_t purged = 0;
  int topics_visited = 0;
  std::string start = purge_cursor_;
  do {
    auto scan =
        redis_->Run(RedisCommand{{"SSCAN", kTopics, purge_cursor_, "COUNT", "100"}, kGlobal});
    if (!scan) return std::unexpected(scan.error());
    if (scan->IsError() || scan->elements.size() != 2)
      return std::unexpected(ReplyError(*scan, "purge"));
    purge_cursor_ = scan->elements[0].str;
    if (redis_->cluster()) {
      if (auto fixed = ReconcileHints(scan->elements[1].elements); !fixed) {
        return std::unexpected(fixed.error());
      }
    }
    for (const RedisReply& member : scan->elements[1].elements) {
      if (purged >= limit) break;
      ++topics_visited;
      auto ids = redis_->Run(
          ScriptCommand(scripts::Purge(), {Prefix(member.str)},
                        {std::to_string(finished_before_ms), std::to_string(limit - purged)}));
      if (!ids) return std::unexpected(ids.error());
      if (ids->IsError()) return std::unexpected(ReplyError(*ids, "purge"));
      std::vector<RedisCommand> unlink;
      for (const RedisReply& id : ids->elements) {
        TaskId task_id = 0;
        if (ParseNumber(id.str, task_id)) unlink.push_back(IndexDelete(task_id));
      }
      if (!unlink.empty()) {
        auto done = redis_->Pipeline(unlink);
        if (!done) return std::unexpected(done.error());
      }
      purged += ids->elements.size();
    }
    // A topic left half purged is visited again by the next call (the cursor rewinds).
    if (purged >= limit) {
      purge_cursor_ = start;
      break;
    }
  } while (purge_cursor_ != "0" && purge_cursor_ != start && topics_visited < kPurgeTopicsPerCall);
  purged_.fetch_add(purged, std::memory_order_relaxed);
  return purged;
}

Result<TaskId> RedisStore::MaxTaskId() {
  auto reply = redis_->Run(RedisCommand{{"GET", kMaxId}, kGlobal});
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "max id"));
  TaskId id = 0;
  if (!reply->IsNil()) ParseNumber(reply->str, id);
  return id;
}

// Durability is Redis's (appendfsync): a reply means the write is as durable as Redis
// makes it, so there is nothing left to flush here.
Result<void> RedisStore::Sync() { return {}; }

// Ready while every slot (or the master) is served by a node that answers: during a
// failover some topics cannot be served, and a load balancer should know.
bool RedisStore::Healthy() { return redis_->Healthy(); }

StoreStats RedisStore::Stats() const {
  StoreStats stats;
  stats.add_batches = added_batches_.load(std::memory_order_relaxed);
  stats.synced_batches = stats.add_batches;
  stats.tasks_added = added_tasks_.load(std::memory_order_relaxed);
  stats.tasks_consumed = consumed_.load(std::memory_order_relaxed);
  stats.tasks_purged = purged_.load(std::memory_order_relaxed);
  stats.backend = ClientMetrics(redis_->Stats());
  return stats;
}

std::vector<const RedisCommand*> RedisStore::Pointers(const std::vector<RedisCommand>& commands) {
  std::vector<const RedisCommand*> out;
  out.reserve(commands.size());
  for (const RedisCommand& command : commands) out.push_back(&command);
  return out;
}

// The add script for one topic's tasks (`indexes` into `tasks`).
RedisCommand RedisStore::AddScript(std::span<const Task> tasks, std::string_view topic,
                                   const std::vector<size_t>& indexes, TaskId max_id, bool single) {
  std::vector<std::string> args;
  args.reserve(2 + indexes.size() * 13);  // add.lua's stride
  args.push_back(single ? "S" : "C");
  args.push_back(std::to_string(max_id));
  for (size_t i : indexes) {
    const Task& task = tasks[i];
    args.push_back(std::to_string(task.id));
    args.push_back(std::to_string(task.due_at_ms));
    args.push_back(std::to_string(task.created_at_ms));
    args.push_back(task.payload);
    args.push_back(std::string(1, KindDigit(task.kind)));
    args.push_back(std::to_string(task.max_attempts));
    args.push_back(task.payload_is_json ? "1" : "0");
    args.push_back(task.dedup_key);
    args.push_back(task.callback);
    args.push_back(IndexKey(task.id));
    args.push_back(IndexField(task.id));
    args.push_back(task.traceparent);
    args.push_back(task.tracestate);
  }
  std::vector<std::string> keys{Prefix(topic)};
  if (single) keys.insert(keys.end(), {kNextPull, kNextCallback, kGen, kTopics, kMaxId});
  return ScriptCommand(scripts::Add(), std::move(keys), std::move(args));
}

// The Redis client's view for /metrics.
std::vector<BackendMetric> RedisStore::ClientMetrics(const RedisClientStats& client) const {
  std::vector<BackendMetric> out;
  BackendMetric up{"delayq_redis_master_up",
                   "Redis masters serving delayq's keys, by node: 1 answering, 0 failing.",
                   false,
                   {}};
  for (const auto& [node, answering] : client.masters) {
    up.samples.emplace_back("node=\"" + node + "\"", answering ? 1 : 0);
  }
  out.push_back(std::move(up));
  auto counter = [&](std::string name, std::string help, uint64_t value) {
    out.push_back({std::move(name), std::move(help), true, {{"", double(value)}}});
  };
  counter("delayq_redis_topology_refreshes_total",
          "Re-reads of the cluster slot map or of the sentinels' master.",
          client.topology_refreshes);
  counter("delayq_redis_failovers_total",
          "Failovers followed: slots or the sentinel master moved away from a failing node.",
          client.failovers);
  BackendMetric redirects{
      "delayq_redis_redirections_total",
      "Cluster redirections followed, by kind.",
      true,
      {{"kind=\"moved\"", double(client.moved)}, {"kind=\"ask\"", double(client.ask)}}};
  out.push_back(std::move(redirects));
  BackendMetric errors{"delayq_redis_errors_total",
                       "Redis errors by kind: connect, timeout, connection_lost, "
                       "outcome_unknown, wait_timeout, clusterdown, tryagain, readonly, "
                       "masterdown, loading, replica.",
                       true,
                       {}};
  for (const auto& [kind, count] : client.errors) {
    errors.samples.emplace_back("kind=\"" + kind + "\"", double(count));
  }
  out.push_back(std::move(errors));
  counter("delayq_redis_hint_failures_total",
          "Cluster adds stored whose last next-due index step failed (repaired by the purge "
          "walk).",
          hint_failures_.load(std::memory_order_relaxed));
  return out;
}

// Refuses a Redis that holds delayq data in another key layout; marks an unused one.
Result<void> CheckLayout(RedisClient& redis) {
  auto failed = [](const RedisReply& reply) {
    return Fail(Errc::kUnavailable, "redis: checking the key layout: " + reply.str);
  };
  auto layout = redis.Run(RedisCommand{{"GET", kLayout}, kGlobal});
  if (!layout) return std::unexpected(layout.error());
  if (layout->IsError()) return failed(*layout);
  const std::string drain =
      ": let the build that wrote it deliver its tasks, or empty the database (FLUSHDB), "
      "then start this one (docs/OPERATIONS.md, \"Upgrades\")";
  if (!layout->IsNil()) {
    if (layout->str == kLayoutVersion) return {};
    return Fail(Errc::kUnavailable, "redis holds delayq data in key layout '" + layout->str +
                                        "'; this build uses layout '" +
                                        std::string(kLayoutVersion) + "'" + drain);
  }
  auto used = redis.Run(RedisCommand{{"EXISTS", kTopics}, kGlobal});
  if (!used) return std::unexpected(used.error());
  if (used->IsError()) return failed(*used);
  if (used->integer > 0) {
    return Fail(Errc::kUnavailable,
                "redis holds delayq data written by a build from before 2026-11-26 (no " + kLayout +
                    " key); this build cannot find those tasks by id" + drain);
  }
  auto marked =
      redis.Run(RedisCommand{{"SET", kLayout, std::string(kLayoutVersion), "NX"}, kGlobal});
  if (!marked) return std::unexpected(marked.error());
  if (marked->IsError()) return failed(*marked);
  return {};
}

}  // namespace delayq::store::redis

namespace delayq::store {

Result<std::unique_ptr<Store>> OpenRedisStore(const StoreConfig& config) {
  auto url = ParseRedisUrl(config.redis_url);
  if (!url) return std::unexpected(url.error());
  RedisClientOptions options;
  options.connect_timeout_ms = static_cast<int>(config.redis_connect_timeout_ms);
  options.command_timeout_ms = static_cast<int>(config.redis_command_timeout_ms);
  for (const std::string& sentinel : config.redis_sentinels) {
    auto address = ParseRedisAddress(sentinel, "redis.sentinels");
    if (!address) return std::unexpected(address.error());
    options.sentinels.push_back(*address);
  }
  if (!options.sentinels.empty() && config.redis_sentinel_master.empty()) {
    return Fail(Errc::kInvalidArgument,
                "redis.sentinel_master: the master's name is needed with redis.sentinels "
                "(the name in the sentinels' 'sentinel monitor NAME ...' line)");
  }
  options.sentinel_master = config.redis_sentinel_master;
  options.sentinel_user = config.redis_sentinel_user;
  options.sentinel_password = config.redis_sentinel_password;
  options.wait_replicas = static_cast<int>(config.redis_wait_replicas);
  options.wait_timeout_ms = static_cast<int>(config.redis_wait_timeout_ms);
  auto client = RedisClient::Connect(*url, std::move(options));
  if (!client) {
    return Fail(client.error().code,
                client.error().message +
                    (config.redis_sentinels.empty()
                         ? " (store: redis needs a reachable redis.url)"
                         : " (store: redis with redis.sentinels needs a sentinel that names a "
                           "reachable master)"));
  }
  // A Redis that just restarted answers LOADING until its AOF is read: wait for it (bounded)
  // rather than fail the start of every instance restarted together with it.
  for (int waited_ms = 0;; waited_ms += 200) {
    auto pong = (*client)->Run(RedisCommand{{"PING"}, ""});
    if (!pong) return std::unexpected(pong.error());
    if (!pong->IsError()) break;
    if (pong->str.rfind("LOADING", 0) != 0 || waited_ms >= 60'000) {
      return Fail(Errc::kUnavailable, "redis: PING answered '" + pong->str + "'");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (auto layout = redis::CheckLayout(**client); !layout) return std::unexpected(layout.error());
  return std::unique_ptr<Store>(new redis::RedisStore(config, std::move(*client)));
}

}  // namespace delayq::store
