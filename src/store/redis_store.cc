#include "store/redis_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "queue/ids.h"
#include "store/redis_client.h"
#include "store/redis_scripts.h"

namespace delayq::store {

namespace {

namespace scripts = redis_scripts;
using Type = RedisReply::Type;

// Global keys share one hash tag, so that the scripts on them run on one cluster node.
const std::string kGlobal = "dq:{dq}:";
const std::string kNextPull = kGlobal + "next:p";
const std::string kNextCallback = kGlobal + "next:c";
const std::string kGen = kGlobal + "gen";
const std::string kTopics = kGlobal + "topics";
const std::string kMaxId = kGlobal + "maxid";
// The key layout this build reads and writes (docs/ARCHITECTURE.md, "Redis layout"), kept
// in Redis so that a build never misreads data written in another layout. "2": id index
// in hashes (`dq:ix:`), task hashes without zero-valued fields. Data without the marker
// comes from builds before 2026-11-26 (`dq:id:` keys).
const std::string kLayout = kGlobal + "layout";
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

std::string Prefix(std::string_view topic) { return "dq:{" + std::string(topic) + "}:"; }
// The id index: which topic (and lane) task ID is in. Ids minted by one node in one
// millisecond share a hash (key: the id without its 12 sequence bits; field: the sequence),
// instead of a key per task: a top-level key per task cost ~20 % of the add script's time
// in Redis and ~50 B per task (BENCHMARKS.md, distributed mode).
std::string IndexKey(TaskId id) {
  return "dq:ix:" + std::to_string(id >> IdGenerator::kSequenceBits);
}
std::string IndexField(TaskId id) { return std::to_string(id & IdGenerator::kMaxSequence); }
RedisCommand IndexGet(TaskId id) {
  std::string key = IndexKey(id);
  return RedisCommand{{"HGET", key, IndexField(id)}, key};
}
RedisCommand IndexDelete(TaskId id) {
  std::string key = IndexKey(id);
  return RedisCommand{{"HDEL", key, IndexField(id)}, key};
}
char KindDigit(DeliveryKind kind) { return kind == DeliveryKind::kCallback ? '1' : '0'; }
const std::string& NextKey(DeliveryKind kind) {
  return kind == DeliveryKind::kCallback ? kNextCallback : kNextPull;
}
std::string Lane(std::string_view topic, DeliveryKind kind) {
  return Prefix(topic) + (kind == DeliveryKind::kCallback ? "due:c" : "due:p");
}
std::string GenField(std::string_view topic, DeliveryKind kind) {
  return std::string(1, KindDigit(kind)) + ":" + std::string(topic);
}
std::string Pad(TaskId id) {
  std::string digits = std::to_string(id);
  return std::string(20 - digits.size(), '0') + digits;
}

template <class T>
bool ParseNumber(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Scores come back as Redis formats doubles ("1800000000000", or "1.8e+12" style never for
// integers below 2^53, but be tolerant).
int64_t ParseScore(const std::string& text) {
  int64_t value = 0;
  if (ParseNumber(text, value)) return value;
  return static_cast<int64_t>(std::stod(text));
}

Error ReplyError(const RedisReply& reply, std::string_view what) {
  return Error{Errc::kUnavailable, "redis: " + std::string(what) + ": " + reply.str};
}

Result<Task> DecodeFields(std::string_view topic, const RedisReply& fields) {
  if (fields.type != Type::kArray || fields.elements.empty() || fields.elements.size() % 2 != 0) {
    return Fail(Errc::kNotFound, "task not found");
  }
  Task task;
  task.topic = std::string(topic);
  bool ok = true;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    const std::string& name = fields.elements[i].str;
    const std::string& value = fields.elements[i + 1].str;
    unsigned digit = 0;
    if (name == "id") {
      ok &= ParseNumber(value, task.id);
    } else if (name == "due") {
      ok &= ParseNumber(value, task.due_at_ms);
    } else if (name == "crt") {
      ok &= ParseNumber(value, task.created_at_ms);
    } else if (name == "pl") {
      task.payload = value;
    } else if (name == "kind") {
      ok &= ParseNumber(value, digit) && digit <= 1;
      task.kind = static_cast<DeliveryKind>(digit);
    } else if (name == "st") {
      ok &= ParseNumber(value, digit) && digit <= 5;
      task.state = static_cast<TaskState>(digit);
    } else if (name == "att") {
      ok &= ParseNumber(value, task.attempts);
    } else if (name == "max") {
      ok &= ParseNumber(value, task.max_attempts);
    } else if (name == "fin") {
      ok &= ParseNumber(value, task.finished_at_ms);
    } else if (name == "tok") {
      if (!value.empty()) ok &= ParseNumber(value, task.lease_token);
    } else if (name == "lse") {
      ok &= ParseNumber(value, task.lease_until_ms);
    } else if (name == "js") {
      task.payload_is_json = value == "1";
    } else if (name == "err") {
      task.last_error = value;
    } else if (name == "dk") {
      task.dedup_key = value;
    } else if (name == "cb") {
      task.callback = value;
    }
  }
  if (!ok || task.id == 0) {
    return Fail(Errc::kInternal,
                "redis: task record in topic '" + std::string(topic) + "' is malformed");
  }
  return task;
}

// A per-task script answers the task's fields, or "NF" (not found) / "CF" (conflict) / "ND".
Result<Task> TaskFromScript(std::string_view topic, TaskId id, const RedisReply& reply) {
  if (reply.IsError()) return std::unexpected(ReplyError(reply, "script failed"));
  if (reply.type == Type::kString) {
    std::string what = "task " + std::to_string(id);
    if (reply.str == "NF") return Fail(Errc::kNotFound, what + " not found");
    if (reply.str == "ND") return Fail(Errc::kNotDue, what + " is not due yet");
    if (reply.str == "EX") {
      return Fail(Errc::kConflict, "lease is stale: the lease of " + what +
                                       " expired (the task may be delivered again)");
    }

    if (reply.str == "CF") {
      return Fail(Errc::kConflict,
                  what + " is not in a state that allows this (or the lease is not current)");
    }
  }
  return DecodeFields(topic, reply);
}

class RedisStore final : public Store {
 public:
  RedisStore(StoreConfig config, std::unique_ptr<RedisClient> client)
      : config_(std::move(config)), redis_(std::move(client)), rng_(std::random_device{}()) {}

  ~RedisStore() override {
    {
      std::lock_guard lock(node_mu_);
      stopping_ = true;
    }
    node_wake_.notify_all();
    if (renewer_.joinable()) renewer_.join();
    if (node_acquired_) {
      // Give the number back at once rather than after the lease runs out.
      (void)redis_->Run(
          ScriptCommand(scripts::RenewNode(), {NodeKey(node_id_)}, {node_owner_, "0"}));
    }
  }

  Result<std::vector<TaskId>> Add(std::span<const Task> tasks) override {
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
  std::vector<Result<TaskId>> AddEach(std::span<const Task> tasks) override {
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

  Result<Task> Get(TaskId id) override {
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

  Result<PromoteResult> Promote(int64_t now_ms) override {
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
      // The generations are read before the lanes, so that a fix never hides a write that
      // happened after the lane was read (docs/ARCHITECTURE.md, "hint protocol").
      RedisCommand gens{{"HMGET", kGen}, kGlobal};
      std::vector<RedisCommand> checks;
      for (const auto& [topic, kind] : lanes) {
        gens.args.push_back(GenField(topic, kind));
        checks.push_back(
            RedisCommand{{"ZRANGE", Lane(topic, kind), "0", "0", "WITHSCORES"}, Prefix(topic)});
      }
      auto read = redis_->Phases({{gens}, checks});
      if (!read) return std::unexpected(read.error());
      if ((*read)[0][0].IsError()) return std::unexpected(ReplyError((*read)[0][0], "promote"));
      std::vector<RedisCommand> fixes;
      for (size_t i = 0; i < lanes.size(); ++i) {
        const auto& [topic, kind] = lanes[i];
        const RedisReply& min = (*read)[1][i];
        const RedisReply& gen = (*read)[0][0].elements[i];
        std::string seen = gen.IsNil() ? "0" : gen.str;
        if (min.IsError()) return std::unexpected(ReplyError(min, "promote"));
        if (min.elements.size() >= 2 && ParseScore(min.elements[1].str) <= now_ms) {
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
    }
    result.promoted = result.topics_ready.size() + result.callback_topics_ready.size();
    result.next_wake_ms = std::max(next, now_ms + 1);
    return result;
  }

  bool HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) override {
    auto reply = redis_->Run(RedisCommand{
        {"ZRANGEBYSCORE", Lane(topic, kind), "-inf", std::to_string(now_ms), "LIMIT", "0", "1"},
        Prefix(topic)});
    return reply && reply->type == Type::kArray && !reply->elements.empty();
  }

  Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max,
                                       int64_t now_ms) override {
    auto taken = RunClaim(topic, DeliveryKind::kPull, max, now_ms, 0);
    if (taken) consumed_.fetch_add(taken->size(), std::memory_order_relaxed);
    return taken;
  }

  Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) override {
    auto reply = redis_->Run(ScriptCommand(scripts::ConsumeById(), {Prefix(topic)},
                                           {std::to_string(id), std::to_string(now_ms)}));
    if (!reply) return std::unexpected(reply.error());
    auto task = TaskFromScript(topic, id, *reply);
    if (task) consumed_.fetch_add(1, std::memory_order_relaxed);
    return task;
  }

  Result<std::vector<Task>> ClaimDue(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms) override {
    return RunClaim(topic, kind, max, now_ms, std::max<int64_t>(lease_until_ms, now_ms + 1));
  }

  Result<Task> Ack(TaskId id, uint64_t lease_token, int64_t now_ms) override {
    return RunTaskScript(scripts::Ack(), id, {std::to_string(lease_token), std::to_string(now_ms)},
                         std::nullopt);
  }

  Result<Task> Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms, std::string_view reason,
                    int64_t now_ms) override {
    return RunTaskScript(scripts::Nack(), id,
                         {std::to_string(lease_token), std::to_string(retry_at_ms),
                          std::string(reason), std::to_string(now_ms)},
                         retry_at_ms);
  }

  Result<Task> ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                           int64_t now_ms) override {
    return RunTaskScript(
        scripts::Extend(), id,
        {std::to_string(lease_token), std::to_string(lease_until_ms), std::to_string(now_ms)},
        std::nullopt);
  }

  // A round's acks and nacks: one pipeline (one round trip on a single server) instead of
  // a round trip each; per entry exactly what Ack or Nack would answer.
  std::vector<Result<Task>> Settle(std::span<const Settlement> settlements,
                                   int64_t now_ms) override {
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
        results[i] = Fail(Errc::kNotFound, "task " + std::to_string(s.id) + " not found");
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
      results[i] = replies[k] ? TaskFromScript(where[i]->topic, settlements[i].id, *replies[k])
                              : Result<Task>(std::unexpected(replies[k].error()));
    }
    return results;
  }

  // Leases live in the lanes themselves (scored by their deadline), so a claim takes an
  // expired lease like any due task; nothing to do here.
  Result<size_t> ExpireLeases(int64_t, size_t) override { return size_t{0}; }

  Result<Task> Cancel(TaskId id, int64_t now_ms) override {
    return RunTaskScript(scripts::Cancel(), id, {std::to_string(now_ms)}, std::nullopt);
  }

  Result<Task> Reschedule(TaskId id, int64_t due_at_ms, int64_t now_ms) override {
    return RunTaskScript(scripts::Reschedule(), id,
                         {std::to_string(due_at_ms), std::to_string(now_ms)}, due_at_ms);
  }

  Result<Task> Redrive(TaskId id, int64_t now_ms) override {
    return RunTaskScript(scripts::Redrive(), id, {std::to_string(now_ms)}, now_ms);
  }

  Result<std::vector<Task>> ListDead(std::string_view topic, TaskId after_id,
                                     size_t limit) override {
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

  Result<std::vector<TopicStats>> Topics(std::string_view topic, int64_t now_ms) override {
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
    }
    std::vector<TopicStats> out;
    if (reads.empty()) return out;
    auto replies = redis_->Pipeline(reads);
    if (!replies) return std::unexpected(replies.error());
    for (size_t t = 0; t < names.size(); ++t) {
      const RedisReply* r = &(*replies)[t * 5];
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
      out.push_back(std::move(stats));
    }
    return out;
  }

  Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) override {
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
    } while (purge_cursor_ != "0" && purge_cursor_ != start &&
             topics_visited < kPurgeTopicsPerCall);
    purged_.fetch_add(purged, std::memory_order_relaxed);
    return purged;
  }

  Result<TaskId> MaxTaskId() override {
    auto reply = redis_->Run(RedisCommand{{"GET", kMaxId}, kGlobal});
    if (!reply) return std::unexpected(reply.error());
    if (reply->IsError()) return std::unexpected(ReplyError(*reply, "max id"));
    TaskId id = 0;
    if (!reply->IsNil()) ParseNumber(reply->str, id);
    return id;
  }

  // Durability is Redis's (appendfsync): a reply means the write is as durable as Redis
  // makes it, so there is nothing left to flush here.
  Result<void> Sync() override { return {}; }

  // Ready while every slot (or the master) is served by a node that answers: during a
  // failover some topics cannot be served, and a load balancer should know.
  bool Healthy() override { return redis_->Healthy(); }

  StoreStats Stats() const override {
    StoreStats stats;
    stats.add_batches = added_batches_.load(std::memory_order_relaxed);
    stats.synced_batches = stats.add_batches;
    stats.tasks_added = added_tasks_.load(std::memory_order_relaxed);
    stats.tasks_consumed = consumed_.load(std::memory_order_relaxed);
    stats.tasks_purged = purged_.load(std::memory_order_relaxed);
    stats.backend = ClientMetrics(redis_->Stats());
    return stats;
  }

  Result<uint32_t> AcquireNodeId(uint32_t configured) override {
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
        renewer_ = std::thread([this] { RenewLoop(); });
        return node;
      }
    }
    return Fail(Errc::kUnavailable, "redis: all 1024 node numbers are leased by live instances");
  }

 private:
  static std::vector<const RedisCommand*> Pointers(const std::vector<RedisCommand>& commands) {
    std::vector<const RedisCommand*> out;
    out.reserve(commands.size());
    for (const RedisCommand& command : commands) out.push_back(&command);
    return out;
  }

  // A write under the hint protocol (docs/ARCHITECTURE.md): `before` lowers the next-due
  // index, `writes` change the tasks, `after` lowers it again and bumps the generations. On
  // a single server `before` and `after` are empty (the scripts keep the index themselves).
  // `before` failing applies nothing: every write answers kUnavailable. `after` failing
  // once the writes are done is not their failure: the index may then be late for those
  // tasks, which the purge walk repairs (ReconcileHints).
  std::vector<Result<RedisReply>> HintedWrites(const std::vector<RedisCommand>& before,
                                               const std::vector<RedisCommand>& writes,
                                               const std::vector<RedisCommand>& after,
                                               bool wait_for_replicas = false) {
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

  // The add script for one topic's tasks (`indexes` into `tasks`).
  static RedisCommand AddScript(std::span<const Task> tasks, std::string_view topic,
                                const std::vector<size_t>& indexes, TaskId max_id, bool single) {
    std::vector<std::string> args;
    args.reserve(2 + indexes.size() * 11);
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
    }
    std::vector<std::string> keys{Prefix(topic)};
    if (single) keys.insert(keys.end(), {kNextPull, kNextCallback, kGen, kTopics, kMaxId});
    return ScriptCommand(scripts::Add(), std::move(keys), std::move(args));
  }

  // A cluster add's first phase (the id index and the lowered hints) and its last (the
  // hints again, with the generations bumped).
  std::pair<std::vector<RedisCommand>, std::vector<RedisCommand>> ClusterAddHints(
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

  // The Redis client's view for /metrics.
  std::vector<BackendMetric> ClientMetrics(const RedisClientStats& client) const {
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

  struct Where {
    std::string topic;
    DeliveryKind kind = DeliveryKind::kPull;
  };

  static std::string NodeKey(uint32_t node) { return kGlobal + "node:" + std::to_string(node); }

  // The keys of a per-task script: the topic's prefix, and on a single server the global
  // keys its due_again() keeps the next-due index with.
  std::vector<std::string> TaskScriptKeys(const std::string& topic) const {
    std::vector<std::string> keys{Prefix(topic)};
    if (!redis_->cluster()) keys.insert(keys.end(), {kNextPull, kNextCallback, kGen});
    return keys;
  }

  // An id index value: the kind digit, then the topic.
  static std::optional<Where> ParseIndexValue(const RedisReply& reply) {
    if (reply.IsNil() || reply.str.size() < 2) return std::nullopt;
    return Where{reply.str.substr(1),
                 reply.str[0] == '1' ? DeliveryKind::kCallback : DeliveryKind::kPull};
  }

  static std::vector<std::string> HintTriple(DeliveryKind kind, const std::string& topic,
                                             int64_t score) {
    return {std::string(1, KindDigit(kind)), topic, std::to_string(score)};
  }

  // A Redis Cluster only: an instance that dies between a write's task script and its
  // last hint step (docs/ARCHITECTURE.md, "hint protocol") can leave a lane's earliest
  // entry below what the next-due index says, and nothing else would lower the index until
  // the next write to that lane: the task would wait. The purge walk over the topics
  // lowers the index to each visited lane's earliest entry (ZADD LT: the index may only be
  // early), so such a task is found within one pass. Two round trips per page of topics.
  Result<void> ReconcileHints(const std::vector<RedisReply>& topics) {
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

  RedisCommand HintCommand(bool bump, std::string max_id, const std::vector<std::string>& triples) {
    std::vector<std::string> args{bump ? "1" : "0", std::move(max_id)};
    args.insert(args.end(), triples.begin(), triples.end());
    return ScriptCommand(scripts::Hint(), {kNextPull, kNextCallback, kGen, kTopics, kMaxId},
                         std::move(args));
  }

  void RememberTopic(TaskId id, DeliveryKind kind, const std::string& topic) {
    std::lock_guard lock(cache_mu_);
    if (topic_cache_.size() >= kTopicCacheMax) topic_cache_.clear();
    topic_cache_[id] = Where{topic, kind};
  }

  Result<Where> TopicOf(TaskId id) {
    {
      std::lock_guard lock(cache_mu_);
      auto it = topic_cache_.find(id);
      if (it != topic_cache_.end()) return it->second;
    }
    auto reply = redis_->Run(IndexGet(id));
    if (!reply) return std::unexpected(reply.error());
    if (reply->IsError()) return std::unexpected(ReplyError(*reply, "get"));
    std::optional<Where> where = ParseIndexValue(*reply);
    if (!where) return Fail(Errc::kNotFound, "task " + std::to_string(id) + " not found");
    RememberTopic(id, where->kind, where->topic);
    return *where;
  }

  // Runs a per-task script. `due_again_at`: the task may be due again at this time, so the
  // next-due index is lowered before and after (hint protocol).
  Result<Task> RunTaskScript(const RedisScript& script, TaskId id, std::vector<std::string> args,
                             std::optional<int64_t> due_again_at) {
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
    return TaskFromScript(where->topic, id, reply);
  }

  Result<std::vector<Task>> RunClaim(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms) {
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

  Result<std::vector<Task>> DecodeClaimed(std::string_view topic, DeliveryKind kind,
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

  void RenewLoop() {
    std::string ttl = std::to_string(config_.redis_node_lease_ms);
    std::unique_lock lock(node_mu_);
    while (!stopping_) {
      node_wake_.wait_for(lock, std::chrono::milliseconds(config_.redis_node_lease_ms / 3),
                          [&] { return stopping_; });
      if (stopping_) return;
      lock.unlock();
      auto reply =
          redis_->Run(ScriptCommand(scripts::RenewNode(), {NodeKey(node_id_)}, {node_owner_, ttl}));
      // The layout marker again, in case the database was emptied under running instances
      // (FLUSHDB): otherwise their next start would take the new data for an older layout.
      (void)redis_->Run(RedisCommand{{"SET", kLayout, std::string(kLayoutVersion), "NX"}, kGlobal});
      lock.lock();
      if (!reply || reply->IsError())
        continue;  // Redis away: try again; adds fail meanwhile anyway
      if (reply->integer != 1 && !node_lost_) {
        node_lost_ = true;
        spdlog::critical(
            "msg=\"node number lease lost to another instance; adds refused until restart\" "
            "node_id={}",
            node_id_);
      }
    }
  }

  const StoreConfig config_;
  std::unique_ptr<RedisClient> redis_;
  int64_t last_promote_ms_ = 0;  // scheduler thread only
  std::string purge_cursor_ = "0";

  std::mutex cache_mu_;
  std::unordered_map<TaskId, Where> topic_cache_;

  std::mutex rng_mu_;
  std::mt19937_64 rng_;

  std::mutex node_mu_;
  std::condition_variable node_wake_;
  bool stopping_ = false;
  std::thread renewer_;
  uint32_t node_id_ = 0;
  bool node_acquired_ = false;
  std::string node_owner_;
  std::atomic<bool> node_lost_{false};

  std::atomic<uint64_t> added_batches_{0};
  std::atomic<uint64_t> added_tasks_{0};
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> purged_{0};
  std::atomic<uint64_t> hint_failures_{0};
};

}  // namespace

namespace {

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

}  // namespace

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
  if (auto layout = CheckLayout(**client); !layout) return std::unexpected(layout.error());
  return std::unique_ptr<Store>(new RedisStore(config, std::move(*client)));
}

}  // namespace delayq::store
