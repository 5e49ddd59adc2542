#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace delayq::testing {

// A real etcd server (Debian's etcd-server, binary `etcd`) on two free loopback ports with
// a data directory of its own, for config-centre tests. Put/Delete write keys through the
// v3 JSON gateway, as an operator's etcdctl would. The destructor SIGKILLs it.
class EtcdProcess {
 public:
  explicit EtcdProcess(std::string data_dir);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  static bool Installed();  // /usr/bin/etcd exists

  // Starts etcd and waits until it answers a read; false (see last_error()) otherwise.
  // Start again after Stop() reuses the same ports and data.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Stop();  // SIGTERM and reap

  std::string client_url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  bool Put(const std::string& key, const std::string& value);
  bool Delete(const std::string& key);
  const std::string& last_error() const { return last_error_; }

 private:
  std::string data_dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
  std::string last_error_;
};

}  // namespace delayq::testing
