// The Redis client's sending: the connection pool per node, pipelines, and what happens to
// an answer (redirections, NOSCRIPT, failover errors, retries).
#include "store/redis_client.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "store/redis_client_impl.h"

namespace delayq::store {

using namespace redis_detail;  // the helpers shared by the client's files

Result<redisContext*> RedisClient::Acquire(Node& node) {
  if (SteadyMs() < node.suspect_until_ms.load()) {
    return Fail(Errc::kUnavailable,
                "redis: " + node.name + " did not answer within redis.command_timeout (" +
                    std::to_string(options_.command_timeout_ms) + " ms); not sent");
  }
  {
    std::unique_lock lock(node.mu);
    bool free = node.freed.wait_for(
        lock, std::chrono::milliseconds(options_.command_timeout_ms),
        [&] { return !node.idle.empty() || node.open < options_.max_connections_per_node; });
    if (!free) {
      return Fail(Errc::kUnavailable, "redis: all " +
                                          std::to_string(options_.max_connections_per_node) +
                                          " connections to " + node.name + " are busy; not sent");
    }
    while (!node.idle.empty()) {
      redisContext* context = node.idle.back();
      node.idle.pop_back();
      if (!Stale(context)) return context;
      redisFree(context);
      --node.open;
    }
    ++node.open;
  }
  auto give_back = [&] {
    std::lock_guard lock(node.mu);
    --node.open;
    node.freed.notify_one();
  };
  std::string why;
  bool timed_out = false;
  redisContext* context = OpenContext(node.host, node.port, options_.connect_timeout_ms,
                                      options_.command_timeout_ms, why, timed_out);
  if (context == nullptr) {
    give_back();
    NodeFailed(node, "connect", timed_out);
    return Fail(Errc::kUnavailable, "redis: cannot connect to " + node.name + ": " + why);
  }
  auto authed = Authenticate(context, url_.user, url_.password, url_.db, node.name,
                             "the password and database in redis.url");
  if (!authed) {
    redisFree(context);
    give_back();
    return std::unexpected(authed.error());
  }
  if (sentinel_) {
    // Never write to a node that is no longer the master (a failed-over master that came
    // back is a replica until told otherwise, or about to become one).
    auto role = RunOn(context, {"ROLE"});
    if (!role || role->elements.empty() || role->elements[0].str != "master") {
      redisFree(context);
      give_back();
      node.failing = true;
      counters_->Error("replica");
      return Fail(Errc::kUnavailable,
                  "redis: " + node.name + " is not a master any more; asking the sentinels again");
    }
  }
  return context;
}

void RedisClient::Release(Node& node, redisContext* context, bool broken) {
  std::lock_guard lock(node.mu);
  if (broken) {
    redisFree(context);
    --node.open;
  } else {
    node.idle.push_back(context);
  }
  node.freed.notify_one();
}

std::vector<Result<RedisReply>> RedisClient::SendOnNode(
    Node& node, const std::vector<const RedisCommand*>& commands, bool asking,
    bool wait_for_replicas) {
  std::vector<Result<RedisReply>> results;
  results.reserve(commands.size());
  auto acquired = Acquire(node);
  if (!acquired) {
    for (size_t i = 0; i < commands.size(); ++i)
      results.push_back(std::unexpected(acquired.error()));
    return results;
  }
  redisContext* context = *acquired;
  bool wait = wait_for_replicas && options_.wait_replicas > 0;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  auto append = [&](const std::vector<std::string>& args) {
    argv.clear();
    lengths.clear();
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
  };
  if (asking) append({"ASKING"});
  for (const RedisCommand* command : commands) append(command->args);
  if (wait) {
    append(
        {"WAIT", std::to_string(options_.wait_replicas), std::to_string(options_.wait_timeout_ms)});
    redisSetTimeout(context, Millis(options_.command_timeout_ms + options_.wait_timeout_ms));
  }
  size_t expected = commands.size() + (asking ? 1 : 0) + (wait ? 1 : 0);
  long long confirmed = 0;
  for (size_t i = 0; i < expected; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      std::string why = context->errstr[0] ? context->errstr : "connection lost";
      bool timed_out = TimedOut(why.c_str());
      Release(node, context, true);
      NodeFailed(node, timed_out ? "timeout" : "connection_lost", timed_out);
      Error unknown{Errc::kOutcomeUnknown, "outcome unknown: redis " + node.name + ": " + why +
                                               " after the command was sent; it may or may "
                                               "not have been applied"};
      while (results.size() < commands.size()) results.push_back(std::unexpected(unknown));
      if (wait) {  // the writes are on the master at best: unconfirmed
        for (auto& result : results) {
          if (result && !result->IsError()) result = std::unexpected(unknown);
        }
      }
      counters_->Error("outcome_unknown");
      return results;
    }
    auto* reply = static_cast<redisReply*>(raw);
    bool is_asking = asking && i == 0;
    bool is_wait = wait && i + 1 == expected;
    if (is_wait) {
      confirmed = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    } else if (!is_asking) {
      results.push_back(Convert(reply));
    }
    freeReplyObject(reply);
  }
  if (wait) redisSetTimeout(context, Millis(options_.command_timeout_ms));
  node.failing = false;
  Release(node, context, false);
  if (wait && confirmed < options_.wait_replicas) {
    counters_->Error("wait_timeout");
    Error unconfirmed{Errc::kOutcomeUnknown,
                      "outcome unknown: the write reached redis " + node.name + " but only " +
                          std::to_string(confirmed) + " of " +
                          std::to_string(options_.wait_replicas) +
                          " replicas confirmed it within redis.wait_timeout (" +
                          std::to_string(options_.wait_timeout_ms) + " ms)"};
    for (auto& result : results) {
      if (result && !result->IsError()) result = std::unexpected(unconfirmed);
    }
  }
  return results;
}

Result<RedisReply> RedisClient::Redirected(const RedisCommand& command, const RedisReply& error,
                                           int depth, bool wait_for_replicas) {
  if (depth >= kMaxRedirects) {
    return Fail(Errc::kUnavailable, "redis: too many redirections (" + error.str + ")");
  }
  std::string host;
  int port = 0;
  if (!ParseRedirect(error.str, host, port)) {
    return Fail(Errc::kUnavailable, "redis: unreadable redirection '" + error.str + "'");
  }
  bool asking = StartsWith(error.str, "ASK ");
  (asking ? counters_->ask : counters_->moved).fetch_add(1, std::memory_order_relaxed);
  Node* target;
  {
    std::lock_guard lock(mu_);
    target = &NodeAt(host, port);
    if (!asking && !command.route_key.empty() && !slots_.empty()) {
      slots_[RedisKeySlot(command.route_key)] = target;  // at once; the full map follows
    }
  }
  if (!asking) RefreshTopology();
  auto replies = SendOnNode(*target, {&command}, asking, wait_for_replicas);
  if (!replies.front()) return std::move(replies.front());
  return FixUp(command, std::move(*replies.front()), depth + 1, wait_for_replicas);
}

Result<RedisReply> RedisClient::FixUp(const RedisCommand& command, RedisReply reply, int depth,
                                      bool wait_for_replicas) {
  if (!reply.IsError()) return reply;
  if (StartsWith(reply.str, "MOVED ") || StartsWith(reply.str, "ASK ")) {
    return Redirected(command, reply, depth, wait_for_replicas);
  }
  if (StartsWith(reply.str, "NOSCRIPT") && command.script != nullptr && depth < kMaxRedirects) {
    // The server lost its script cache (restart, new node): EVAL sends the source once,
    // which caches it there for the next EVALSHA.
    RedisCommand eval = command;
    eval.args[0] = "EVAL";
    eval.args[1] = command.script->source;
    eval.script = nullptr;
    Node* node = NodeFor(eval.route_key);
    auto replies = SendOnNode(*node, {&eval}, false, wait_for_replicas);
    if (!replies.front()) return std::move(replies.front());
    return FixUp(eval, std::move(*replies.front()), depth + 1, wait_for_replicas);
  }
  std::string_view kind = FailoverError(reply.str);
  if (kind.empty()) return reply;
  // The node did not run it: the cluster lost a master and has not promoted a replica yet
  // (CLUSTERDOWN), a master became a replica (READONLY), a slot is half migrated
  // (TRYAGAIN), a restarted node is still reading its data (LOADING).
  Node* node = NodeFor(command.route_key);
  if (kind != "tryagain") node->failing = true;
  counters_->Error(kind);
  Error refused{Errc::kUnavailable, "redis: " + node->name + " answered " + reply.str};
  if (depth >= kMaxAttempts - 1) return std::unexpected(refused);
  if (kind == "tryagain") {
    std::this_thread::sleep_for(std::chrono::milliseconds(kTryAgainMs));
  } else {
    RefreshTopology();
    if (NodeFor(command.route_key) == node) return std::unexpected(refused);
  }
  auto replies = SendOnNode(*NodeFor(command.route_key), {&command}, false, wait_for_replicas);
  if (!replies.front()) return std::move(replies.front());
  return FixUp(command, std::move(*replies.front()), depth + 1, wait_for_replicas);
}

Result<RedisReply> RedisClient::Retry(const RedisCommand& command, Result<RedisReply> outcome,
                                      bool wait_for_replicas) {
  for (int attempt = 1;; ++attempt) {
    if (outcome) return FixUp(command, std::move(*outcome), 0, wait_for_replicas);
    // Sent again only when it certainly did not run, or only reads.
    bool resend = outcome.error().code == Errc::kUnavailable ||
                  (outcome.error().code == Errc::kOutcomeUnknown && IsReadOnly(command));
    if (!resend || attempt >= kMaxAttempts) return outcome;
    Node* before = NodeFor(command.route_key);
    RefreshTopology();
    Node* after = NodeFor(command.route_key);
    // Same node, which just refused or timed out: fail now rather than queue behind it.
    if (after == before && outcome.error().code == Errc::kUnavailable) return outcome;
    auto replies = SendOnNode(*after, {&command}, false, wait_for_replicas);
    outcome = std::move(replies.front());
  }
}

Result<RedisReply> RedisClient::Run(const RedisCommand& command) {
  return std::move(PipelineEach({&command}).front());
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<RedisCommand>& commands) {
  std::vector<const RedisCommand*> pointers;
  pointers.reserve(commands.size());
  for (const RedisCommand& command : commands) pointers.push_back(&command);
  return Pipeline(pointers);
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<const RedisCommand*>& commands) {
  std::vector<Result<RedisReply>> each = PipelineEach(commands);
  std::vector<RedisReply> replies;
  replies.reserve(each.size());
  for (auto& result : each) {
    if (!result) return std::unexpected(std::move(result.error()));
    replies.push_back(std::move(*result));
  }
  return replies;
}

std::vector<Result<RedisReply>> RedisClient::PipelineEach(
    const std::vector<const RedisCommand*>& commands, bool wait_for_replicas) {
  std::vector<Result<RedisReply>> results(commands.size());
  // Group by node, keeping each node's commands in their order.
  std::vector<std::pair<Node*, std::vector<size_t>>> groups;
  for (size_t i = 0; i < commands.size(); ++i) {
    Node* node = NodeFor(commands[i]->route_key);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == node; });
    if (it == groups.end()) {
      groups.push_back({node, {i}});
    } else {
      it->second.push_back(i);
    }
  }
  for (auto& [node, indexes] : groups) {
    std::vector<const RedisCommand*> batch;
    batch.reserve(indexes.size());
    for (size_t index : indexes) batch.push_back(commands[index]);
    auto sent = SendOnNode(*node, batch, false, wait_for_replicas);
    for (size_t k = 0; k < indexes.size(); ++k) {
      results[indexes[k]] = Retry(*commands[indexes[k]], std::move(sent[k]), wait_for_replicas);
    }
  }
  return results;
}

Result<std::vector<std::vector<RedisReply>>> RedisClient::Phases(
    const std::vector<std::vector<RedisCommand>>& phases) {
  std::vector<std::vector<RedisReply>> out;
  if (!cluster_) {
    std::vector<const RedisCommand*> all;
    for (const auto& phase : phases) {
      for (const RedisCommand& command : phase) all.push_back(&command);
    }
    auto replies = Pipeline(all);
    if (!replies) return std::unexpected(replies.error());
    size_t at = 0;
    for (const auto& phase : phases) {
      out.emplace_back(std::make_move_iterator(replies->begin() + at),
                       std::make_move_iterator(replies->begin() + at + phase.size()));
      at += phase.size();
    }
    return out;
  }
  for (const auto& phase : phases) {
    auto replies = Pipeline(phase);
    if (!replies) return std::unexpected(replies.error());
    out.push_back(std::move(*replies));
  }
  return out;
}

}  // namespace delayq::store
