#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace delayq::testing {

// A redis-server of its own for a test: loopback, a free port, its files in `dir`, AOF on
// with appendfsync always (the durability the tests rely on). Stopped by the destructor.
class RedisServer {
 public:
  explicit RedisServer(std::string dir, std::vector<std::string> extra_args = {});
  // A redis-sentinel watching the master on `master_port` as `master_name`, with quorum 2,
  // down-after 1 s and failover-timeout 5 s (its config file is written in `dir`).
  static std::unique_ptr<RedisServer> Sentinel(const std::string& dir,
                                               const std::string& master_name, int master_port);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts on a free port (the first time) or on the same port again (after Stop/Kill);
  // false if it did not answer PING within 10 s.
  bool Start();
  void Stop();    // SIGTERM (Redis flushes its AOF) and reap
  void Kill();    // SIGKILL and reap
  void Pause();   // SIGSTOP: hung, not dead (its sockets stay open)
  void Resume();  // SIGCONT
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Runs redis-cli against this server; returns its stdout.
  std::string Cli(const std::string& args) const;

 private:
  void SignalAndReap(int signal);

  std::string dir_;
  std::vector<std::string> extra_args_;
  std::string sentinel_config_;  // set: started as a sentinel with this config file
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free loopback TCP port (and, when `with_bus`, port + 10000 free too: Redis Cluster's bus).
int FreePort(bool with_bus = false);

// Three masters with cluster mode on, joined by `redis-cli --cluster create`; with
// `replicas` 1, a replica for each (six nodes), which Redis promotes when its master dies for
// `node_timeout_ms`.
class RedisCluster {
 public:
  explicit RedisCluster(const std::string& dir, int replicas = 0, int node_timeout_ms = 5000);
  bool Start();             // false with the reason in last_error()
  std::string url() const;  // any node
  const std::string& last_error() const { return last_error_; }
  std::vector<int> ports() const;
  RedisServer& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }
  // The running node that is master of `key`'s slot, by its own word; -1 if none.
  int MasterOf(const std::string& key);

 private:
  int replicas_ = 0;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::string last_error_;
};

}  // namespace delayq::testing
