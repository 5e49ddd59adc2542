// The Redis client's view of the servers: the nodes, the cluster slot map or the Sentinel
// master, re-reading them after a fault, health probes and stats.
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "store/redis_client.h"
#include "store/redis_client_impl.h"

namespace delayq::store {

using namespace redis_detail;  // the helpers shared by the client's files

RedisClient::RedisClient(RedisUrl url, RedisClientOptions options)
    : url_(std::move(url)), options_(std::move(options)), counters_(new Counters) {}

RedisClient::~RedisClient() {
  for (auto& [name, node] : nodes_) {
    for (redisContext* context : node->idle) redisFree(context);
  }
}

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisUrl& url,
                                                          RedisClientOptions options) {
  std::unique_ptr<RedisClient> client(new RedisClient(url, std::move(options)));
  if (!client->options_.sentinels.empty()) {
    client->sentinel_ = true;
    if (auto found = client->ResolveSentinelMaster(); !found) {
      return std::unexpected(found.error());
    }
    return client;
  }
  {
    std::lock_guard lock(client->mu_);
    client->seed_ = &client->NodeAt(url.host, url.port);
    client->seeds_ = {client->seed_};
  }
  auto reply = client->Run(RedisCommand{{"CLUSTER", "SLOTS"}, ""});
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) {
    // Only a server without cluster support is a single server; any other refusal is a
    // problem to report, not a mode to guess.
    if (reply->str.find("cluster support disabled") == std::string::npos) {
      return Fail(Errc::kUnavailable, "redis: CLUSTER SLOTS answered '" + reply->str + "'");
    }
    return client;
  }
  if (url.db != 0) {
    return Fail(Errc::kInvalidArgument,
                "redis.url: a Redis Cluster has only database 0; remove '/" +
                    std::to_string(url.db) + "' from the URL");
  }
  client->cluster_ = true;
  if (auto applied = client->ApplySlots(*reply); !applied) return std::unexpected(applied.error());
  return client;
}

RedisClient::Node& RedisClient::NodeAt(const std::string& host, int port) {
  std::string name = host + ":" + std::to_string(port);
  auto& node = nodes_[name];
  if (!node) {
    node = std::make_unique<Node>();
    node->host = host;
    node->port = port;
    node->name = name;
  }
  return *node;
}

Result<void> RedisClient::ApplySlots(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.empty()) {
    return Fail(Errc::kUnavailable, "redis: CLUSTER SLOTS answered '" + reply.str + "'");
  }
  std::lock_guard lock(mu_);
  std::vector<Node*> slots(kSlotCount, nullptr);
  auto node_of = [&](const RedisReply& entry) -> Node* {
    if (entry.elements.size() < 2) return nullptr;
    std::string host = entry.elements[0].str;
    if (host.empty()) host = url_.host;  // a node that does not know its own address
    return &NodeAt(host, static_cast<int>(entry.elements[1].integer));
  };
  for (const RedisReply& range : reply.elements) {
    if (range.elements.size() < 3) continue;
    Node* master = node_of(range.elements[2]);
    // Replicas are remembered too: when a master dies, they are where the new map is.
    for (size_t r = 3; r < range.elements.size(); ++r) node_of(range.elements[r]);
    if (master == nullptr) continue;
    for (long long slot = range.elements[0].integer; slot <= range.elements[1].integer; ++slot) {
      if (slot >= 0 && slot < static_cast<long long>(kSlotCount)) slots[slot] = master;
    }
  }
  // Slots that left a failing master: a failover (a migration moves them from a live one).
  std::set<std::pair<Node*, Node*>> moves;
  for (size_t slot = 0; slot < slots_.size() && slot < kSlotCount; ++slot) {
    Node* before = slots_[slot];
    if (before != nullptr && slots[slot] != nullptr && before != slots[slot] &&
        before->failing.load()) {
      moves.insert({before, slots[slot]});
    }
  }
  for (const auto& [from, to] : moves) {
    counters_->failovers.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("msg=\"redis cluster failover: slots moved to a new master\" from={} to={}",
                 from->name, to->name);
  }
  slots_ = std::move(slots);
  return {};
}

Result<void> RedisClient::ResolveSentinelMaster() {
  std::string last = "no sentinel configured";
  for (const RedisAddress& sentinel : options_.sentinels) {
    std::string why;
    bool timed_out = false;
    redisContext* context = OpenContext(sentinel.host, sentinel.port, options_.connect_timeout_ms,
                                        options_.connect_timeout_ms, why, timed_out);
    if (context == nullptr) {
      last = "sentinel " + sentinel.text() + ": " + why;
      continue;
    }
    auto authed = Authenticate(context, options_.sentinel_user, options_.sentinel_password, 0,
                               sentinel.text(), "redis.sentinel_password");
    Result<RedisReply> reply =
        authed ? RunOn(context, {"SENTINEL", "get-master-addr-by-name", options_.sentinel_master})
               : Result<RedisReply>(std::unexpected(authed.error()));
    redisFree(context);
    if (!reply) {
      last = reply.error().message;
      continue;
    }
    int port = 0;
    if (reply->elements.size() != 2 || !ParseInt(reply->elements[1].str, port)) {
      last = "sentinel " + sentinel.text() + " knows no master named '" + options_.sentinel_master +
             "' (" + (reply->IsError() ? reply->str : "nil") + ")";
      continue;
    }
    const std::string host = reply->elements[0].str;
    // Only a node that says it is a master gets writes: a sentinel that has not seen the
    // failover yet may name the old one.
    context = OpenContext(host, port, options_.connect_timeout_ms, options_.connect_timeout_ms, why,
                          timed_out);
    if (context == nullptr) {
      last = "master " + host + ":" + std::to_string(port) + " named by sentinel " +
             sentinel.text() + ": " + why;
      continue;
    }
    auto role_authed = Authenticate(context, url_.user, url_.password, 0, host, "redis.url");
    auto role = role_authed ? RunOn(context, {"ROLE"})
                            : Result<RedisReply>(std::unexpected(role_authed.error()));
    redisFree(context);
    if (!role || role->elements.empty() || role->elements[0].str != "master") {
      last = "node " + host + ":" + std::to_string(port) + " named by sentinel " + sentinel.text() +
             " is not a master (" +
             (!role                    ? role.error().message
              : role->elements.empty() ? role->str
                                       : role->elements[0].str) +
             ")";
      continue;
    }
    std::lock_guard lock(mu_);
    Node* master = &NodeAt(host, port);
    if (seed_ != master) {
      if (seed_ != nullptr) {
        counters_->failovers.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("msg=\"redis sentinel failover: following the new master\" from={} to={}",
                     seed_->name, master->name);
      }
      master->failing = false;
      seed_ = master;
    }
    return {};
  }
  return Fail(Errc::kUnavailable, "redis.sentinels: no sentinel named a reachable master '" +
                                      options_.sentinel_master + "': " + last);
}

void RedisClient::RefreshTopology() {
  if (!cluster_ && !sentinel_) return;  // a single server has nothing to re-read
  std::unique_lock guard(refresh_mu_, std::try_to_lock);
  if (!guard.owns_lock()) return;  // another thread is re-reading it now
  int64_t now = SteadyMs();
  if (now < next_refresh_ms_) return;
  counters_->refreshes.fetch_add(1, std::memory_order_relaxed);
  bool ok = false;
  if (sentinel_) {
    ok = ResolveSentinelMaster().has_value();
  } else {
    // The seeds first, then every node seen since; nodes that answered last time first.
    std::vector<Node*> candidates;
    {
      std::lock_guard lock(mu_);
      candidates = seeds_;
      for (auto& [name, node] : nodes_) {
        if (std::find(candidates.begin(), candidates.end(), node.get()) == candidates.end())
          candidates.push_back(node.get());
      }
    }
    std::stable_partition(candidates.begin(), candidates.end(),
                          [](Node* node) { return !node->failing.load(); });
    for (Node* node : candidates) {
      std::string why;
      bool timed_out = false;
      redisContext* context = OpenContext(node->host, node->port, options_.connect_timeout_ms,
                                          options_.connect_timeout_ms, why, timed_out);
      if (context == nullptr) continue;
      auto authed = Authenticate(context, url_.user, url_.password, 0, node->name, "redis.url");
      auto slots = authed ? RunOn(context, {"CLUSTER", "SLOTS"})
                          : Result<RedisReply>(std::unexpected(authed.error()));
      redisFree(context);
      if (slots && ApplySlots(*slots)) {
        ok = true;
        break;
      }
    }
  }
  refresh_backoff_ms_ =
      ok ? 0 : std::min(std::max(2 * refresh_backoff_ms_, kRefreshMinMs), kRefreshMaxBackoffMs);
  next_refresh_ms_ = now + (ok ? kRefreshMinMs : refresh_backoff_ms_);
}

RedisClient::Node* RedisClient::NodeFor(const std::string& route_key) {
  std::lock_guard lock(mu_);
  if (!cluster_ || route_key.empty() || slots_.empty()) return seed_;
  Node* node = slots_[RedisKeySlot(route_key)];
  return node ? node : seed_;
}

void RedisClient::NodeFailed(Node& node, std::string_view kind, bool timed_out) {
  node.failing = true;
  counters_->Error(kind);
  if (timed_out) node.suspect_until_ms = SteadyMs() + kSuspectMs;
  // The other idle connections to it are most likely dead too.
  std::lock_guard lock(node.mu);
  for (redisContext* context : node.idle) redisFree(context);
  node.open -= node.idle.size();
  node.idle.clear();
  node.freed.notify_all();
}

bool RedisClient::ProbeMaster(Node& node) {
  RedisCommand probe{{cluster_ ? "CLUSTER" : "PING"}, ""};
  if (cluster_) probe.args.push_back("INFO");
  auto replies = SendOnNode(node, {&probe}, false, false);
  const auto& reply = replies.front();
  bool ok = reply && !reply->IsError() &&
            (!cluster_ || reply->str.find("cluster_state:ok") != std::string::npos);
  node.failing = !ok;
  return ok;
}

bool RedisClient::Healthy() {
  auto failing_masters = [&](bool& complete) {
    std::lock_guard lock(mu_);
    std::vector<Node*> failing;
    complete = true;
    if (!cluster_) {
      if (seed_->failing.load()) failing.push_back(seed_);
      return failing;
    }
    for (Node* node : slots_) {
      if (node == nullptr) {
        complete = false;
      } else if (node->failing.load() &&
                 std::find(failing.begin(), failing.end(), node) == failing.end()) {
        failing.push_back(node);
      }
    }
    return failing;
  };
  bool complete = true;
  if (failing_masters(complete).empty() && complete) return true;
  int64_t now = SteadyMs();
  int64_t due = next_probe_ms_.load();
  if (now < due || !next_probe_ms_.compare_exchange_strong(due, now + kProbeEveryMs)) return false;
  RefreshTopology();
  for (Node* node : failing_masters(complete)) ProbeMaster(*node);
  return failing_masters(complete).empty() && complete;
}

RedisClientStats RedisClient::Stats() const {
  RedisClientStats stats;
  stats.topology_refreshes = counters_->refreshes.load(std::memory_order_relaxed);
  stats.moved = counters_->moved.load(std::memory_order_relaxed);
  stats.ask = counters_->ask.load(std::memory_order_relaxed);
  stats.failovers = counters_->failovers.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(counters_->mu);
    stats.errors.assign(counters_->errors.begin(), counters_->errors.end());
  }
  std::lock_guard lock(mu_);
  std::vector<Node*> masters;
  if (!cluster_) {
    if (seed_) masters.push_back(seed_);
  } else {
    for (Node* node : slots_) {
      if (node && std::find(masters.begin(), masters.end(), node) == masters.end())
        masters.push_back(node);
    }
  }
  for (Node* node : masters) stats.masters.emplace_back(node->name, !node->failing.load());
  return stats;
}

}  // namespace delayq::store
