#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct redisContext;  // hiredis

namespace delayq::store {

// Where to reach Redis: redis://[[user]:password@]host[:port][/db].
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
};

// Errors name the field ("redis.url") and what a valid value looks like. rediss:// (TLS)
// is refused: Debian 12's hiredis 0.14 has no TLS support (docs/CONFIG.md).
Result<RedisUrl> ParseRedisUrl(std::string_view url);

// The hash slot of a key (CRC16 of the key, or of its {hash tag}, modulo 16384), as
// Redis Cluster computes it.
uint16_t RedisKeySlot(std::string_view key);

struct RedisReply {
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };
  Type type = Type::kNil;
  long long integer = 0;
  std::string str;  // kStatus, kError, kString
  std::vector<RedisReply> elements;

  bool IsError() const { return type == Type::kError; }
  bool IsNil() const { return type == Type::kNil; }
};

// One command. `route_key` picks the node in a cluster (a key the command touches); empty
// means any node.
struct RedisCommand {
  std::vector<std::string> args;
  std::string route_key;
  const struct RedisScript* script = nullptr;  // set by ScriptCommand: EVALSHA's source
};

// A Lua script run with EVALSHA; re-sent with EVAL when a server does not know it (after a
// restart or on a new cluster node), which also caches it there.
struct RedisScript {
  explicit RedisScript(std::string source);
  std::string source;
  std::string sha1;  // hex
};

RedisCommand ScriptCommand(const RedisScript& script, std::vector<std::string> keys,
                           std::vector<std::string> args);

struct RedisClientOptions {
  int connect_timeout_ms = 1000;
  int command_timeout_ms = 5000;
  size_t max_connections_per_node = 8;
};

// A bounded pool of blocking hiredis connections per node, shared by threads. Against a
// Redis Cluster it keeps the slot map (CLUSTER SLOTS) and follows MOVED and ASK
// redirections; against a single server every command goes to it. A transport error
// closes the connection and answers kUnavailable; the next call connects again, so the
// client recovers by itself when Redis comes back.
class RedisClient {
 public:
  static Result<std::unique_ptr<RedisClient>> Connect(const RedisUrl& url,
                                                      RedisClientOptions options = {});
  ~RedisClient();

  bool cluster() const { return cluster_; }

  // Error replies come back as replies (kError), except redirections and NOSCRIPT, which
  // are handled here.
  Result<RedisReply> Run(const RedisCommand& command);

  // Replies in command order. Commands for one node travel as one pipeline (one round
  // trip), in their order; in a cluster the nodes are visited one after another, so there
  // is no order between commands of different nodes (use Phases for that).
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisCommand>& commands);
  Result<std::vector<RedisReply>> Pipeline(const std::vector<const RedisCommand*>& commands);

  // The phases run in order, each completing before the next starts. With a single server
  // they are sent as one pipeline (one round trip), which Redis executes in order.
  Result<std::vector<std::vector<RedisReply>>> Phases(
      const std::vector<std::vector<RedisCommand>>& phases);

 private:
  struct Node;

  RedisClient(RedisUrl url, RedisClientOptions options);
  Result<void> LoadSlots();  // asks CLUSTER SLOTS, then ApplySlots
  Result<void> ApplySlots(const RedisReply& slots);
  Node& NodeFor(const std::string& route_key);
  Node& NodeAt(const std::string& host, int port);
  Result<redisContext*> Acquire(Node& node);
  void Release(Node& node, redisContext* context, bool broken);
  Result<std::vector<RedisReply>> SendOnNode(Node& node,
                                             const std::vector<const RedisCommand*>& cmds,
                                             bool asking);
  Result<RedisReply> Redirected(const RedisCommand& command, const RedisReply& error, int depth);
  Result<RedisReply> FixUp(const RedisCommand& command, RedisReply reply, int depth);

  const RedisUrl url_;
  const RedisClientOptions options_;
  bool cluster_ = false;
  std::mutex mu_;                                       // nodes_ and slots_
  std::map<std::string, std::unique_ptr<Node>> nodes_;  // by "host:port"
  std::vector<Node*> slots_;                            // 16384 entries in cluster mode
  Node* seed_ = nullptr;
};

}  // namespace delayq::store
