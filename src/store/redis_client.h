#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/defaults.h"
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

// Whether a command only reads (GET, HGETALL, ZRANGE, ...), and so may be sent again when
// its answer was lost.
bool IsReadOnly(const RedisCommand& command);

// A Lua script run with EVALSHA; re-sent with EVAL when a server does not know it (after a
// restart or on a new cluster node), which also caches it there.
struct RedisScript {
  explicit RedisScript(std::string source);
  std::string source;
  std::string sha1;  // hex
};

RedisCommand ScriptCommand(const RedisScript& script, std::vector<std::string> keys,
                           std::vector<std::string> args);

// A host:port pair ("127.0.0.1:26379"); errors name `field`.
struct RedisAddress {
  std::string host;
  int port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};
Result<RedisAddress> ParseRedisAddress(std::string_view text, std::string_view field);

struct RedisClientOptions {
  // Every connection attempt and every command is bounded, so that a dead, stopped or
  // black-holed node costs a request at most this long (docs/CONFIG.md, redis.*_timeout).
  int connect_timeout_ms = static_cast<int>(defaults::kRedisConnectTimeoutMs);
  int command_timeout_ms = static_cast<int>(defaults::kRedisCommandTimeoutMs);
  size_t max_connections_per_node = 8;
  // Redis Sentinel: when set, the master is found through these sentinels (redis.url then
  // gives only the credentials and the database) and followed when they fail it over.
  std::vector<RedisAddress> sentinels;
  std::string sentinel_master;
  std::string sentinel_user;
  std::string sentinel_password;
  // WAIT after writes sent with `wait_for_replicas` (adds): a write is confirmed only when
  // this many replicas have it; otherwise its outcome is unknown.
  int wait_replicas = static_cast<int>(defaults::kRedisWaitReplicas);
  int wait_timeout_ms = static_cast<int>(defaults::kRedisWaitTimeoutMs);
};

// What the client has seen, for /metrics. Counters only grow.
struct RedisClientStats {
  uint64_t topology_refreshes = 0;  // slot map or sentinel master re-read
  uint64_t moved = 0;
  uint64_t ask = 0;
  uint64_t failovers = 0;  // a slot range or the sentinel master moved to another node
  std::vector<std::pair<std::string, uint64_t>> errors;  // by kind
  std::vector<std::pair<std::string, bool>> masters;     // "host:port" -> answering
};

// A bounded pool of blocking hiredis connections per node, shared by threads. Against a
// Redis Cluster it keeps the slot map (CLUSTER SLOTS) and follows MOVED and ASK
// redirections; against a single server every command goes to it; with sentinels, to the
// master they name.
//
// Faults (docs/ARCHITECTURE.md, "Redis faults"): a connection error, a timeout, CLUSTERDOWN,
// TRYAGAIN, READONLY or MASTERDOWN makes the client re-read the topology (from the seed, every
// node seen since, or the sentinels; at most every 100 ms, backing off to 1 s while nothing
// answers) and retry what is safe: a command that certainly did not run, and a read. A node
// that timed out is not sent to for 500 ms (requests fail at once instead of each waiting
// for the timeout). Errors: kUnavailable = the command did not run; kOutcomeUnknown = it was
// sent and no answer came, so a write may or may not have happened.
class RedisClient {
 public:
  static Result<std::unique_ptr<RedisClient>> Connect(const RedisUrl& url,
                                                      RedisClientOptions options = {});
  ~RedisClient();

  bool cluster() const { return cluster_; }

  // Error replies come back as replies (kError), except redirections, NOSCRIPT and the
  // failover errors above, which are handled here.
  Result<RedisReply> Run(const RedisCommand& command);

  // Replies in command order. Commands for one node travel as one pipeline (one round
  // trip), in their order; in a cluster the nodes are visited one after another, so there
  // is no order between commands of different nodes (use Phases for that). Fails as a
  // whole with the first error.
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisCommand>& commands);
  Result<std::vector<RedisReply>> Pipeline(const std::vector<const RedisCommand*>& commands);

  // As Pipeline, with an outcome per command. `wait_for_replicas`: each node's commands are
  // followed by WAIT (options.wait_replicas); when fewer replicas confirm, the node's
  // commands answer kOutcomeUnknown.
  std::vector<Result<RedisReply>> PipelineEach(const std::vector<const RedisCommand*>& commands,
                                               bool wait_for_replicas = false);

  // The phases run in order, each completing before the next starts. With a single server
  // they are sent as one pipeline (one round trip), which Redis executes in order.
  Result<std::vector<std::vector<RedisReply>>> Phases(
      const std::vector<std::vector<RedisCommand>>& phases);

  // Whether every slot (or the one master) is served by a node that answers. While not,
  // re-reads the topology and probes the failing masters (at most every 200 ms).
  bool Healthy();

  RedisClientStats Stats() const;

 private:
  struct Node;
  struct Counters;

  RedisClient(RedisUrl url, RedisClientOptions options);
  Result<void> ApplySlots(const RedisReply& slots);
  Result<void> ResolveSentinelMaster();
  void RefreshTopology();
  Node* NodeFor(const std::string& route_key);
  Node& NodeAt(const std::string& host, int port);  // mu_ held
  Result<redisContext*> Acquire(Node& node);
  void Release(Node& node, redisContext* context, bool broken);
  std::vector<Result<RedisReply>> SendOnNode(Node& node,
                                             const std::vector<const RedisCommand*>& cmds,
                                             bool asking, bool wait_for_replicas);
  Result<RedisReply> Retry(const RedisCommand& command, Result<RedisReply> outcome,
                           bool wait_for_replicas);
  Result<RedisReply> Redirected(const RedisCommand& command, const RedisReply& error, int depth,
                                bool wait_for_replicas);
  Result<RedisReply> FixUp(const RedisCommand& command, RedisReply reply, int depth,
                           bool wait_for_replicas);
  void NodeFailed(Node& node, std::string_view kind, bool timed_out);
  bool ProbeMaster(Node& node);

  const RedisUrl url_;
  const RedisClientOptions options_;
  bool cluster_ = false;
  bool sentinel_ = false;
  mutable std::mutex mu_;                               // nodes_, slots_, seed_
  std::map<std::string, std::unique_ptr<Node>> nodes_;  // by "host:port"; never removed
  std::vector<Node*> slots_;                            // 16384 entries in cluster mode
  Node* seed_ = nullptr;                                // single server: the master
  std::vector<Node*> seeds_;                            // where the slot map is first asked
  std::mutex refresh_mu_;                               // one refresh at a time
  int64_t next_refresh_ms_ = 0;                         // steady clock; refresh_mu_
  int64_t refresh_backoff_ms_ = 0;                      // refresh_mu_
  std::atomic<int64_t> next_probe_ms_{0};
  std::unique_ptr<Counters> counters_;
};

}  // namespace delayq::store
