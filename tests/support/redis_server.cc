#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/server_process.h"
#include "support/test_util.h"

namespace delayq::testing {

namespace {

bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort(bool with_bus) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    int port = ntohs(addr.sin_port);
    if (!with_bus) return port;
    if (port + 10000 < 65536 && PortFree(port + 10000)) return port;
  }
  return 0;
}

RedisServer::RedisServer(std::string dir, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(dir_);
}

std::unique_ptr<RedisServer> RedisServer::Sentinel(const std::string& dir,
                                                   const std::string& master_name,
                                                   int master_port) {
  auto sentinel = std::make_unique<RedisServer>(dir);
  sentinel->sentinel_config_ = dir + "/sentinel.conf";
  std::ofstream config(sentinel->sentinel_config_);
  config << "sentinel monitor " << master_name << " 127.0.0.1 " << master_port << " 2\n"
         << "sentinel down-after-milliseconds " << master_name << " 1000\n"
         << "sentinel failover-timeout " << master_name << " 5000\n";
  return sentinel;
}

RedisServer::~RedisServer() { Stop(); }

bool RedisServer::Start() {
  bool cluster = false;
  for (const auto& arg : extra_args_) cluster |= arg == "--cluster-enabled";
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool fixed_port = port_ != 0;
    if (!fixed_port) port_ = FreePort(cluster);
    std::vector<std::string> args{"redis-server",
                                  "--bind",
                                  "127.0.0.1",
                                  "--port",
                                  std::to_string(port_),
                                  "--dir",
                                  dir_,
                                  "--appendonly",
                                  "yes",
                                  "--appendfsync",
                                  "always",
                                  "--save",
                                  "",
                                  "--daemonize",
                                  "no",
                                  "--logfile",
                                  dir_ + "/redis.log",
                                  "--protected-mode",
                                  "no"};
    if (!sentinel_config_.empty()) {
      // A sentinel rewrites its config file, which must come first.
      args.insert(args.begin() + 1, {sentinel_config_, "--sentinel"});
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    pid_ = fork();
    if (pid_ == 0) {
      // Dies with the test process, even when that is killed: no orphan servers.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    // NOAUTH also means "up" (a server started with --requirepass).
    bool up = WaitFor(
        [&] {
          std::string pong = Cli("PING");
          return pong.find("PONG") != std::string::npos || pong.find("NOAUTH") != std::string::npos;
        },
        std::chrono::seconds(10));
    if (up) return true;
    Kill();
    if (fixed_port) return false;
    port_ = 0;
  }
  return false;
}

void RedisServer::Stop() { SignalAndReap(SIGTERM); }

void RedisServer::Kill() { SignalAndReap(SIGKILL); }

void RedisServer::Pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void RedisServer::SignalAndReap(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  ::kill(pid_, SIGCONT);  // a paused server handles SIGTERM only once it runs
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string RedisServer::Cli(const std::string& args) const {
  return RunCommand("redis-cli -h 127.0.0.1 -p " + std::to_string(port_) + " " + args + " 2>&1");
}

RedisCluster::RedisCluster(const std::string& dir, int replicas, int node_timeout_ms)
    : replicas_(replicas) {
  for (int i = 0; i < 3 * (1 + replicas); ++i) {
    std::string node_dir = dir + "/node" + std::to_string(i);
    nodes_.push_back(std::make_unique<RedisServer>(
        node_dir, std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file",
                                           node_dir + "/nodes.conf", "--cluster-node-timeout",
                                           std::to_string(node_timeout_ms),
                                           // Redis 7.0.15 (Debian 12) replicas otherwise refuse
                                           // the election: "Disconnected from master for longer
                                           // than allowed", seen here with a live link until the
                                           // kill. 0: a replica always stands.
                                           "--cluster-replica-validity-factor", "0"}));
  }
}

bool RedisCluster::Start() {
  std::string addresses;
  for (auto& node : nodes_) {
    if (!node->Start()) {
      last_error_ = "a cluster node did not start";
      return false;
    }
    addresses += " 127.0.0.1:" + std::to_string(node->port());
  }
  std::string out = RunCommand("redis-cli --cluster create" + addresses + " --cluster-replicas " +
                               std::to_string(replicas_) + " --cluster-yes 2>&1");
  bool ok = WaitFor(
      [&] {
        for (auto& node : nodes_) {
          if (node->Cli("CLUSTER INFO").find("cluster_state:ok") == std::string::npos) return false;
        }
        return true;
      },
      std::chrono::seconds(20));
  if (!ok) last_error_ = "cluster did not reach cluster_state:ok; redis-cli said:\n" + out;
  return ok;
}

std::string RedisCluster::url() const {
  return "redis://127.0.0.1:" + std::to_string(nodes_.front()->port()) + "/0";
}

int RedisCluster::MasterOf(const std::string& key) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->running()) continue;
    std::string slot_text = nodes_[i]->Cli("CLUSTER KEYSLOT '" + key + "'");
    int slot = std::atoi(slot_text.c_str());
    std::string nodes = nodes_[i]->Cli("CLUSTER NODES");
    size_t at = nodes.find("myself,master");
    if (at == std::string::npos) continue;
    size_t line_start = nodes.rfind('\n', at);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    std::string line = nodes.substr(line_start, nodes.find('\n', at) - line_start);
    // Fields 9 on: slot ranges "a-b" or "a".
    std::istringstream fields(line);
    std::string field;
    for (int f = 0; fields >> field; ++f) {
      if (f < 8 || field.front() == '[') continue;
      int low = std::atoi(field.c_str());
      size_t dash = field.find('-');
      int high = dash == std::string::npos ? low : std::atoi(field.c_str() + dash + 1);
      if (slot >= low && slot <= high) return static_cast<int>(i);
    }
  }
  return -1;
}

std::vector<int> RedisCluster::ports() const {
  std::vector<int> out;
  for (const auto& node : nodes_) out.push_back(node->port());
  return out;
}

}  // namespace delayq::testing
