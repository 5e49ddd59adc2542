#include "store/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

namespace delayq::store {

namespace {

constexpr int kMaxRedirects = 5;
constexpr size_t kSlotCount = 16384;
// Sends of one command when failover errors say it did not run (the first included).
constexpr int kMaxAttempts = 3;
// A node that timed out is not sent to for this long: requests fail at once instead of each
// waiting out the command timeout while it hangs (a hung node, or one behind a black hole).
constexpr int64_t kSuspectMs = 500;
// Topology re-reads: at most every 100 ms, backing off to once a second while no node
// answers, so that a dead cluster is not asked hundreds of times a second.
constexpr int64_t kRefreshMinMs = 100;
constexpr int64_t kRefreshMaxBackoffMs = 1000;
// Readiness probes of failing masters (Healthy) at most this often.
constexpr int64_t kProbeEveryMs = 200;
// TRYAGAIN (a multi-key command during a slot migration): wait this long before resending.
constexpr int kTryAgainMs = 20;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

timeval Millis(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

bool TimedOut(const char* why) {
  std::string_view text(why);
  return text.find("temporarily unavailable") != std::string_view::npos ||
         text.find("timed out") != std::string_view::npos;
}

Error UrlError(std::string_view url, std::string_view what) {
  return Error{Errc::kInvalidArgument,
               "redis.url '" + std::string(url) + "': " + std::string(what) +
                   " (expected redis://[[user]:password@]host[:port][/db])"};
}

bool ParseInt(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

RedisReply Convert(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i)
        out.elements.push_back(Convert(reply->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" -> host, port.
bool ParseRedirect(const std::string& error, std::string& host, int& port) {
  size_t space = error.rfind(' ');
  if (space == std::string::npos) return false;
  std::string_view address(error.c_str() + space + 1);
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = std::string(address.substr(0, colon));
  return ParseInt(address.substr(colon + 1), port);
}

// One blocking command on a context of its own (set-up, probes, topology reads).
Result<RedisReply> RunOn(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    return Fail(Errc::kUnavailable, context->errstr[0] ? context->errstr : "connection lost");
  }
  RedisReply out = Convert(reply);
  freeReplyObject(reply);
  return out;
}

// A connected context with both timeouts set, or why not (`timed_out` for a connect that
// ran out of time rather than being refused).
redisContext* OpenContext(const std::string& host, int port, int connect_timeout_ms,
                          int command_timeout_ms, std::string& why, bool& timed_out) {
  redisContext* context = redisConnectWithTimeout(host.c_str(), port, Millis(connect_timeout_ms));
  if (context == nullptr || context->err) {
    why = context ? context->errstr : "out of memory";
    timed_out = TimedOut(why.c_str());
    if (context) redisFree(context);
    return nullptr;
  }
  redisSetTimeout(context, Millis(command_timeout_ms));
  return context;
}

// AUTH (and SELECT) on a fresh connection; the failure names the setting to check.
Result<void> Authenticate(redisContext* context, const std::string& user,
                          const std::string& password, int db, std::string_view where,
                          std::string_view setting) {
  std::vector<std::vector<std::string>> setup;
  if (!password.empty()) {
    setup.push_back(user.empty() ? std::vector<std::string>{"AUTH", password}
                                 : std::vector<std::string>{"AUTH", user, password});
  }
  if (db != 0) setup.push_back({"SELECT", std::to_string(db)});
  for (const auto& args : setup) {
    auto reply = RunOn(context, args);
    std::string failure = !reply ? reply.error().message : reply->IsError() ? reply->str : "";
    if (!failure.empty()) {
      return Fail(Errc::kUnavailable, "redis: " + args[0] + " at " + std::string(where) +
                                          " failed: " + failure + " (check " +
                                          std::string(setting) + ")");
    }
  }
  return {};
}

// An idle pooled connection whose peer has gone (it is readable: EOF or a reset) would
// swallow the next command and make its outcome unknown; it is dropped before use instead.
bool Stale(redisContext* context) {
  pollfd fd{context->fd, POLLIN, 0};
  return poll(&fd, 1, 0) != 0;
}

// The failover errors: the node did not run the command. `kind` names it in /metrics.
std::string_view FailoverError(const std::string& error) {
  if (StartsWith(error, "CLUSTERDOWN")) return "clusterdown";
  if (StartsWith(error, "TRYAGAIN")) return "tryagain";
  if (StartsWith(error, "READONLY")) return "readonly";
  if (StartsWith(error, "MASTERDOWN")) return "masterdown";
  if (StartsWith(error, "LOADING")) return "loading";
  return "";
}

}  // namespace

bool IsReadOnly(const RedisCommand& command) {
  static const std::set<std::string, std::less<>> kReads = {
      "GET",    "HGET",        "HGETALL",  "HMGET", "ZRANGE", "ZRANGEBYSCORE",
      "ZCOUNT", "ZRANGEBYLEX", "SMEMBERS", "SSCAN", "EXISTS", "PING",
      "ROLE",   "CLUSTER",     "INFO",     "ZCARD", "HLEN",   "SCARD"};
  return command.script == nullptr && !command.args.empty() && kReads.contains(command.args[0]);
}

Result<RedisAddress> ParseRedisAddress(std::string_view text, std::string_view field) {
  size_t colon = text.rfind(':');
  RedisAddress out;
  if (colon == std::string_view::npos || colon == 0 ||
      !ParseInt(text.substr(colon + 1), out.port) || out.port <= 0 || out.port > 65535) {
    return Fail(Errc::kInvalidArgument, std::string(field) + ": '" + std::string(text) +
                                            "' is not host:port (for example 127.0.0.1:26379)");
  }
  out.host = std::string(text.substr(0, colon));
  return out;
}

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  RedisUrl out;
  std::string_view rest = url;
  if (StartsWith(rest, "rediss://")) {
    return std::unexpected(
        UrlError(url, "TLS (rediss://) is not supported by this build's hiredis 0.14"));
  }
  if (!StartsWith(rest, "redis://"))
    return std::unexpected(UrlError(url, "must start with redis://"));
  rest.remove_prefix(8);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    size_t colon = credentials.find(':');
    if (colon == std::string_view::npos) {
      out.password = std::string(credentials);
    } else {
      out.user = std::string(credentials.substr(0, colon));
      out.password = std::string(credentials.substr(colon + 1));
    }
  }
  size_t slash = rest.find('/');
  std::string_view address = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, out.db) || out.db < 0)) {
      return std::unexpected(UrlError(url, "the database after '/' must be a number >= 0"));
    }
  }
  size_t colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(']') == std::string_view::npos) {
    if (!ParseInt(address.substr(colon + 1), out.port) || out.port <= 0 || out.port > 65535) {
      return std::unexpected(UrlError(url, "the port must be a number from 1 to 65535"));
    }
    address = address.substr(0, colon);
  }
  if (address.empty()) return std::unexpected(UrlError(url, "the host is missing"));
  out.host = std::string(address);
  return out;
}

uint16_t RedisKeySlot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  // CRC16-CCITT (XModem), the variant the Redis Cluster specification names.
  uint16_t crc = 0;
  for (unsigned char byte : key) {
    crc ^= static_cast<uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc % kSlotCount;
}

RedisScript::RedisScript(std::string text) : source(std::move(text)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char byte : digest) {
    sha1.push_back(kHex[byte >> 4]);
    sha1.push_back(kHex[byte & 15]);
  }
}

RedisCommand ScriptCommand(const RedisScript& script, std::vector<std::string> keys,
                           std::vector<std::string> args) {
  RedisCommand command;
  command.args.reserve(3 + keys.size() + args.size());
  command.script = &script;
  command.args.push_back("EVALSHA");
  command.args.push_back(script.sha1);
  command.args.push_back(std::to_string(keys.size()));
  if (!keys.empty()) command.route_key = keys.front();
  for (auto& key : keys) command.args.push_back(std::move(key));
  for (auto& arg : args) command.args.push_back(std::move(arg));
  return command;
}

struct RedisClient::Node {
  std::string host;
  int port = 0;
  std::string name;  // host:port
  std::mutex mu;
  std::condition_variable freed;
  std::vector<redisContext*> idle;
  size_t open = 0;                           // idle + borrowed
  std::atomic<bool> failing{false};          // the last exchange failed; cleared by an answer
  std::atomic<int64_t> suspect_until_ms{0};  // steady clock: fail fast until then
};

struct RedisClient::Counters {
  std::atomic<uint64_t> refreshes{0};
  std::atomic<uint64_t> moved{0};
  std::atomic<uint64_t> ask{0};
  std::atomic<uint64_t> failovers{0};
  std::mutex mu;
  std::map<std::string, uint64_t, std::less<>> errors;

  void Error(std::string_view kind) {
    std::lock_guard lock(mu);
    auto it = errors.find(kind);
    if (it == errors.end()) it = errors.emplace(std::string(kind), 0).first;
    ++it->second;
  }
};

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
