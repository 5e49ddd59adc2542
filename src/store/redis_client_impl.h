#pragma once

// What the Redis client's files share: redis_connection.cc (one hiredis connection: open,
// authenticate, run a command, convert replies, classify errors), redis_topology.cc (the
// nodes, the slot map, Sentinel, health and stats) and redis_client.cc (the pool and the
// sending: pipelines, redirections, retries). redis_command.cc (URLs, key slots, scripts)
// needs none of it. For redis_client*.cc, redis_connection.cc and redis_topology.cc only.

#include <sys/time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis_client.h"

struct redisReply;  // hiredis

namespace delayq::store {

namespace redis_detail {

inline constexpr int kMaxRedirects = 5;
inline constexpr size_t kSlotCount = 16384;
// Sends of one command when failover errors say it did not run (the first included).
inline constexpr int kMaxAttempts = 3;
// A node that timed out is not sent to for this long: requests fail at once instead of each
// waiting out the command timeout while it hangs (a hung node, or one behind a black hole).
inline constexpr int64_t kSuspectMs = 500;
// Topology re-reads: at most every 100 ms, backing off to once a second while no node
// answers, so that a dead cluster is not asked hundreds of times a second.
inline constexpr int64_t kRefreshMinMs = 100;
inline constexpr int64_t kRefreshMaxBackoffMs = 1000;
// Readiness probes of failing masters (Healthy) at most this often.
inline constexpr int64_t kProbeEveryMs = 200;
// TRYAGAIN (a multi-key command during a slot migration): wait this long before resending.
inline constexpr int kTryAgainMs = 20;

int64_t SteadyMs();
timeval Millis(int ms);
// Whether a hiredis error text says the connection or command ran out of time.
bool TimedOut(const char* why);
bool ParseInt(std::string_view text, int& out);
bool StartsWith(std::string_view text, std::string_view prefix);
RedisReply Convert(const redisReply* reply);
// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" -> host, port.
bool ParseRedirect(const std::string& error, std::string& host, int& port);
// One blocking command on a context of its own (set-up, probes, topology reads).
Result<RedisReply> RunOn(redisContext* context, const std::vector<std::string>& args);
// A connected context with both timeouts set, or why not (`timed_out` for a connect that
// ran out of time rather than being refused).
redisContext* OpenContext(const std::string& host, int port, int connect_timeout_ms,
                          int command_timeout_ms, std::string& why, bool& timed_out);
// AUTH (and SELECT) on a fresh connection; the failure names the setting to check.
Result<void> Authenticate(redisContext* context, const std::string& user,
                          const std::string& password, int db, std::string_view where,
                          std::string_view setting);
// An idle pooled connection whose peer has gone (it is readable: EOF or a reset) would
// swallow the next command and make its outcome unknown; it is dropped before use instead.
bool Stale(redisContext* context);
// The failover errors: the node did not run the command. `kind` names it in /metrics.
std::string_view FailoverError(const std::string& error);

}  // namespace redis_detail

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

}  // namespace delayq::store
